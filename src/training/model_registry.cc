#include "training/model_registry.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cmath>

#include "common/json_text.h"
#include "common/time_format.h"

namespace embedrec::training {

std::string VersionName(int major, int minor, int64_t now_ms) {
  std::string day = FormatRfc3339(now_ms / 1000).substr(0, 10);  // YYYY-MM-DD
  day.erase(std::remove(day.begin(), day.end(), '-'), day.end());
  return "v" + std::to_string(major) + "." + std::to_string(minor) + "_" + day;
}

StatusOr<store::ModelVersionRecord> ModelRegistry::NextVersion(store::TenantStore& store,
                                                               bool incremental, int base_major) {
  ASSIGN_OR_RETURN(auto versions, store.training().ListVersions());
  int major = 0, minor = -1;
  for (const auto& v : versions) major = std::max(major, v.major);
  if (incremental) {
    major = base_major;
    for (const auto& v : versions) {
      if (v.major == major) minor = std::max(minor, v.minor);
    }
    ++minor;
  } else {
    ++major;
    minor = 0;
  }
  store::ModelVersionRecord v;
  v.major = major;
  v.minor = minor;
  v.version = VersionName(major, minor, clock_->NowMillis());
  return v;
}

Status ModelRegistry::Store(const std::string& tenant_id, store::TenantStore& store,
                            store::ModelVersionRecord* v, const ml::ModelArtifact& artifact,
                            const std::string& index_bytes) {
  ASSIGN_OR_RETURN(auto blobs, open_blobs_(tenant_id));
  std::string model_bytes = ml::EncodeModel(artifact);
  v->model_key = "models/" + v->version + "/model.embr";
  v->index_key = "models/" + v->version + "/index.faiss";
  // Index first, model second, record last: a record always names files
  // that are complete (each Put is atomic).
  RETURN_IF_ERROR(blobs->Put(v->index_key, index_bytes));
  RETURN_IF_ERROR(blobs->Put(v->model_key, model_bytes));
  v->size_bytes = static_cast<int64_t>(model_bytes.size() + index_bytes.size());
  v->created_at_ms = clock_->NowMillis();
  return store.training().PutVersion(*v);
}

StatusOr<std::shared_ptr<const serving::ServingModel>> ModelRegistry::Load(
    const std::string& tenant_id, const store::ModelVersionRecord& v) {
  ASSIGN_OR_RETURN(auto blobs, open_blobs_(tenant_id));
  ASSIGN_OR_RETURN(std::string model_bytes, blobs->Get(v.model_key));
  ASSIGN_OR_RETURN(std::string index_bytes, blobs->Get(v.index_key));
  return serving::LoadServingModel(v.version, v.created_at_ms, model_bytes, index_bytes,
                                   options_.index);
}

std::string ModelRegistry::Location(const std::string& tenant_id, const std::string& key) {
  auto blobs = open_blobs_(tenant_id);
  return blobs.ok() ? (*blobs)->Location(key) : key;
}

StatusOr<ml::ModelArtifact> ModelRegistry::ReadArtifact(const std::string& tenant_id,
                                                        const store::ModelVersionRecord& v) {
  ASSIGN_OR_RETURN(auto blobs, open_blobs_(tenant_id));
  ASSIGN_OR_RETURN(std::string bytes, blobs->Get(v.model_key));
  return ml::DecodeModel(bytes);
}

StatusOr<store::ModelVersionRecord> ModelRegistry::Deploy(const std::string& tenant_id,
                                                          store::TenantStore& store,
                                                          const std::string& version,
                                                          const std::string& reason) {
  std::lock_guard lock(deploy_mu_);
  ASSIGN_OR_RETURN(auto versions, store.training().ListVersions());
  auto it = std::find_if(versions.begin(), versions.end(),
                         [&](const auto& v) { return v.version == version; });
  if (it == versions.end()) return Status::NotFound("model version '" + version + "' does not exist");
  auto loaded = Load(tenant_id, *it);
  if (!loaded.ok()) {
    return Status::FailedPrecondition("model version '" + version +
                                      "' cannot be loaded: " + loaded.status().message());
  }
  const int64_t now = clock_->NowMillis();
  std::string event = "{\"tenant_id\":\"" + tenant_id + "\",\"model_version\":\"" + version +
                      "\",\"model_type\":\"" + it->model_type + "\",\"deployed_at\":\"" +
                      FormatRfc3339Millis(now) + "\",\"metrics\":" + it->metrics_json + "}";
  RETURN_IF_ERROR(store.training().Deploy(version, reason, "model-deployed", event, now));
  deployed_->Set(tenant_id, *loaded);
  if (options_.deployed) options_.deployed(tenant_id);
  spdlog::info("tenant {}: model {} deployed ({})", tenant_id, version, reason);
  it->status = store::VersionStatus::kDeployed;
  it->reason = reason;
  it->deployed_at_ms = now;
  return *it;
}

Status ModelRegistry::SetTraffic(const std::string& tenant_id, store::TenantStore& store, const Split& split) {
  if (split.empty() || split.size() > kMaxLive) {
    return Status::InvalidArgument("a traffic split names 1 to " + std::to_string(kMaxLive) + " versions");
  }
  std::lock_guard lock(deploy_mu_);
  ASSIGN_OR_RETURN(auto versions, store.training().ListVersions());
  // The split is checked whole before any model is loaded; the deployed version first.
  std::vector<store::ModelVersionRecord> records;
  for (const auto& [version, weight] : split) {
    if (!(weight > 0) || !std::isfinite(weight)) {
      return Status::InvalidArgument("the weight of " + version + " must be a number > 0");
    }
    auto it = std::find_if(versions.begin(), versions.end(), [&](const auto& v) { return v.version == version; });
    if (it == versions.end()) return Status::NotFound("model version '" + version + "' does not exist");
    for (const auto& r : records) {
      if (r.version == version) return Status::InvalidArgument("version " + version + " is named twice");
    }
    it->traffic_weight = weight;
    if (it->status == store::VersionStatus::kDeployed) records.insert(records.begin(), *it);
    else records.push_back(*it);
  }
  if (records.front().status != store::VersionStatus::kDeployed) {
    return Status::FailedPrecondition("the deployed version must be in the split (deploy another one to replace it)");
  }
  std::vector<serving::LiveVersion> live;
  for (const auto& r : records) {
    auto model = deployed_->Find(tenant_id, r.version);  // already in memory
    if (!model) {
      auto loaded = Load(tenant_id, r);
      if (!loaded.ok()) {
        return Status::FailedPrecondition("model version '" + r.version +
                                          "' cannot be loaded: " + loaded.status().message());
      }
      model = *loaded;
    }
    live.push_back({model, r.traffic_weight});
  }
  const int64_t now = clock_->NowMillis();
  std::string event = "{\"tenant_id\":";
  AppendJsonString(tenant_id, &event);
  event += ",\"versions\":[";
  for (size_t i = 0; i < records.size(); ++i) {
    if (i) event += ",";
    event += "{\"model_version\":";
    AppendJsonString(records[i].version, &event);
    event += ",\"weight\":";
    AppendJsonNumber(records[i].traffic_weight, &event);
    event += "}";
  }
  event += "],\"changed_at\":\"" + FormatRfc3339Millis(now) + "\"}";
  RETURN_IF_ERROR(store.training().SetTraffic(split, "traffic-changed", event, now));
  RETURN_IF_ERROR(deployed_->SetLive(tenant_id, std::move(live)));
  spdlog::info("tenant {}: traffic split over {} versions", tenant_id, records.size());
  return Status::Ok();
}

Status ModelRegistry::Delete(const std::string& tenant_id, store::TenantStore& store,
                             const std::string& version) {
  ASSIGN_OR_RETURN(auto versions, store.training().ListVersions());
  auto it = std::find_if(versions.begin(), versions.end(),
                         [&](const auto& v) { return v.version == version; });
  if (it == versions.end()) return Status::NotFound("model version '" + version + "' does not exist");
  RETURN_IF_ERROR(store.training().DeleteVersion(version));  // refuses the deployed one
  ASSIGN_OR_RETURN(auto blobs, open_blobs_(tenant_id));
  // The record is gone first: a crash here leaves unreferenced files, never a
  // record naming missing files.
  Status a = blobs->Delete(it->model_key), b = blobs->Delete(it->index_key);
  if (!a.ok() || !b.ok()) {
    spdlog::warn("tenant {}: files of deleted model {} not removed: {} {}", tenant_id, version,
                 a.message(), b.message());
  }
  return Status::Ok();
}

StatusOr<int> ModelRegistry::ApplyRetention(const std::string& tenant_id, store::TenantStore& store) {
  ASSIGN_OR_RETURN(auto versions, store.training().ListVersions());  // newest first
  const int64_t young = clock_->NowMillis() - options_.min_age_days * 86400000;
  int kept = 0, removed = 0;
  for (const auto& v : versions) {
    if (v.status == store::VersionStatus::kDeployed || v.traffic_weight > 0) continue;
    if (kept < options_.keep_versions || v.created_at_ms >= young) {
      ++kept;
      continue;
    }
    RETURN_IF_ERROR(Delete(tenant_id, store, v.version));
    ++removed;
  }
  return removed;
}

StatusOr<serving::DeployedModels::Loaded> ModelRegistry::ReadDeployed(const std::string& tenant_id,
                                                                      store::TenantStore& store) {
  serving::DeployedModels::Loaded out;
  ASSIGN_OR_RETURN(auto versions, store.training().ListVersions());
  auto deployed = std::find_if(versions.begin(), versions.end(),
                               [](const auto& v) { return v.status == store::VersionStatus::kDeployed; });
  if (deployed == versions.end()) return out;
  auto model = Load(tenant_id, *deployed);
  if (!model.ok()) {
    out.problem = "deployed model " + deployed->version + " cannot be loaded: " + model.status().message();
    // The newest older version that loads serves instead, alone.
    for (auto it = deployed + 1; it != versions.end(); ++it) {
      auto older = Load(tenant_id, *it);
      if (!older.ok()) continue;
      out.live.push_back({*older, 1.0});
      out.problem += "; serving " + it->version + " instead";
      break;
    }
    spdlog::error("tenant {}: {}", tenant_id, out.problem);
    return out;
  }
  out.live.push_back({*model, deployed->traffic_weight > 0 ? deployed->traffic_weight : 1.0});
  for (const auto& v : versions) {
    if (v.status == store::VersionStatus::kDeployed || !(v.traffic_weight > 0)) continue;
    auto other = Load(tenant_id, v);
    if (other.ok()) {
      out.live.push_back({*other, v.traffic_weight});
    } else {
      out.problem += (out.problem.empty() ? "" : "; ") +
                     ("live version " + v.version + " cannot be loaded: " + other.status().message() +
                      "; its traffic goes to the others");
    }
  }
  if (out.live.size() == 1) out.live.front().weight = 1.0;
  if (!out.problem.empty()) spdlog::error("tenant {}: {}", tenant_id, out.problem);
  return out;
}

}  // namespace embedrec::training
