#include "serving/deployed_models.h"

#include "common/bit_mix.h"
#include "ml/blend.h"
#include "ml/model_file.h"
#include "ml/recency.h"
#include "ml/similar_items.h"

#include <algorithm>
#include <cmath>
#include <exception>

namespace embedrec::serving {

StatusOr<std::shared_ptr<const ServingModel>> LoadServingModel(const std::string& version,
                                                               int64_t created_at_ms,
                                                               std::string_view model_bytes,
                                                               std::string_view index_bytes,
                                                               const ann::IndexOptions& options) {
  ASSIGN_OR_RETURN(ml::ModelArtifact artifact, ml::DecodeModel(model_bytes));
  if (artifact.item_ids.size() != artifact.n_items) {
    return Status::FailedPrecondition("model " + version + " has no item ids");
  }
  auto m = std::make_shared<ServingModel>();
  m->version = version;
  m->created_at_ms = created_at_ms;
  auto type = ml::ParseModelType(artifact.model_type);
  if (!type) return Status::FailedPrecondition("model " + version + " is of an unknown type '" + artifact.model_type + "'");
  m->model_type = *type;
  m->item_to_item = ml::IsItemToItem(*type) ||
                    (*type == ml::ModelType::kBlend && ml::BlendHasItemToItem(artifact.params_json));
  ASSIGN_OR_RETURN(m->index, ann::LoadItemIndex(index_bytes, options));
  if (m->index->size() != static_cast<int64_t>(artifact.n_items) ||
      m->index->dim() != static_cast<int>(artifact.dim)) {
    return Status::FailedPrecondition("index of model " + version + " does not match its model");
  }
  m->user_ids = std::move(artifact.user_ids);
  m->item_ids = std::move(artifact.item_ids);
  m->user_rows.reserve(m->user_ids.size());  // no rehashing as they fill
  m->item_rows.reserve(m->item_ids.size());
  for (size_t i = 0; i < m->user_ids.size(); ++i) m->user_rows.emplace(m->user_ids[i], i);
  for (size_t i = 0; i < m->item_ids.size(); ++i) m->item_rows.emplace(m->item_ids[i], i);
  artifact.user_ego.clear();  // serving needs the final embeddings only (and a fold-in's input factor)
  if (!m->item_to_item) artifact.item_ego.clear();
  m->calibration = ml::ScoreCalibration::FromMetadata(artifact.metadata_json);
  m->recent_events_share = ml::RecentEventsShare(artifact.metadata_json);
  m->similar_category_share = ml::SimilarCategoryShare(artifact.metadata_json);
  m->history_offsets = std::move(artifact.history_offsets);
  m->history_items = std::move(artifact.history_items);
  if (!m->history_items.empty()) m->reranker = ml::Reranker::FromMetadata(artifact.metadata_json);
  if (m->reranker) {
    m->item_log_users.assign(m->item_ids.size(), 0.0f);
    for (int32_t i : m->history_items) {
      if (i >= 0 && static_cast<size_t>(i) < m->item_log_users.size()) m->item_log_users[i] += 1;
    }
    for (float& x : m->item_log_users) x = std::log1p(x);
  }
  ASSIGN_OR_RETURN(m->model, ml::LoadModel(artifact));
  const int d = m->model->dim();
  const auto& items = m->model->item_embeddings();
  m->item_norms.resize(m->item_ids.size());
  for (size_t i = 0; i < m->item_norms.size(); ++i) {
    double s = 0;
    for (int j = 0; j < d; ++j) s += static_cast<double>(items[i * d + j]) * items[i * d + j];
    m->item_norms[i] = static_cast<float>(std::sqrt(s));
    m->max_item_norm = std::max(m->max_item_norm, m->item_norms[i]);
  }
  const int64_t n_users = static_cast<int64_t>(m->user_ids.size());
  if (n_users > 0 && n_users <= ServingModel::kMaxUserIndex) {
    ann::IndexOptions exact = options;
    exact.exact_max_items = ServingModel::kMaxUserIndex;
    ASSIGN_OR_RETURN(m->user_index, ann::BuildItemIndex(m->model->user_embeddings().data(), n_users,
                                                        m->model->dim(), exact));
  }
  m->bytes = EstimateBytes(*m, index_bytes.size());
  return std::shared_ptr<const ServingModel>(std::move(m));
}

int64_t EstimateBytes(const ServingModel& m, size_t index_bytes) {
  auto strings = [](const std::vector<std::string>& v) {
    int64_t b = static_cast<int64_t>(v.capacity() * sizeof(std::string));
    for (const auto& s : v) b += s.size() > 15 ? static_cast<int64_t>(s.capacity()) : 0;
    return b;
  };
  // An id map entry: its key's copy and the hash node (about 64 bytes).
  auto ids = [](const std::vector<std::string>& v) {
    int64_t b = 0;
    for (const auto& s : v) b += 64 + (s.size() > 15 ? static_cast<int64_t>(s.size()) : 0);
    return b;
  };
  int64_t b = sizeof(ServingModel);
  b += static_cast<int64_t>(m.model->user_embeddings().size() + m.model->item_embeddings().size()) * 4;
  // A blend's parts keep their own item rows (and an item-to-item part its fold-in factor).
  if (m.model_type == ml::ModelType::kBlend) {
    b += static_cast<int64_t>(m.model->item_embeddings().size()) * 4 * (m.item_to_item ? 2 : 1);
  }
  b += strings(m.user_ids) + strings(m.item_ids) + ids(m.user_ids) + ids(m.item_ids);
  b += static_cast<int64_t>(index_bytes);
  b += static_cast<int64_t>(m.item_norms.size() * 4 + m.item_log_users.size() * 4);
  b += static_cast<int64_t>(m.history_offsets.size() * 8 + m.history_items.size() * 4);
  if (m.user_index) b += static_cast<int64_t>(m.user_ids.size()) * m.model->dim() * 4;
  // The kept candidate lists grow with use, up to their bound (a pair and
  // its share of the list's map entry: ~20 bytes).
  b += static_cast<int64_t>(ServingModel::KeptPairsBound(m.item_ids.size()) +
                            ServingModel::KeptPairsBound(m.user_ids.size())) * 20;
  return b;
}

bool ServingModel::UserHad(int64_t u, int32_t i) const {
  if (history_offsets.empty() || u < 0 || u + 1 >= static_cast<int64_t>(history_offsets.size())) {
    return false;
  }
  auto b = history_items.begin() + history_offsets[u], e = history_items.begin() + history_offsets[u + 1];
  return std::binary_search(b, e, i);
}

std::vector<int64_t> ServingModel::NearestUsers(int64_t u, int k) const {
  if (!user_index || u < 0 || u >= static_cast<int64_t>(user_ids.size())) return {};
  {
    std::lock_guard lock(neighbours_mu_);
    if (auto it = neighbours_.find(u); it != neighbours_.end()) return it->second;
  }
  std::vector<int64_t> out;
  const int d = model->dim();
  for (auto& [v, s] : user_index->Search(model->user_embeddings().data() + u * d, k + 1, nullptr)) {
    if (v != u && static_cast<int>(out.size()) < k) out.push_back(v);
  }
  std::lock_guard lock(neighbours_mu_);
  if (neighbours_.size() >= 100000) neighbours_.clear();  // bounded; recomputed on demand
  neighbours_.emplace(u, out);
  return out;
}

std::shared_ptr<const ServingModel::Candidates> ServingModel::Kept(
    KeptLists& lists, int64_t key, size_t need, size_t max_pairs, const std::function<Candidates()>& search) const {
  {
    std::lock_guard lock(neighbours_mu_);
    if (auto it = lists.lists.find(key); it != lists.lists.end() && it->second.list->size() >= need) {
      it->second.used = true;
      return it->second.list;
    }
  }
  auto list = std::make_shared<const Candidates>(search());  // outside the lock
  std::lock_guard lock(neighbours_mu_);
  // Bounded: past the bound, the lists not used since the last sweep are
  // dropped (all of them if that frees too little); dropped ones are
  // recomputed on demand.
  if (lists.pairs + list->size() > max_pairs) {
    for (auto it = lists.lists.begin(); it != lists.lists.end();) {
      if (it->second.used) {
        it->second.used = false;
        ++it;
      } else {
        lists.pairs -= it->second.list->size();
        it = lists.lists.erase(it);
      }
    }
    if (lists.pairs + list->size() > max_pairs * 3 / 4) {
      lists.lists.clear();
      lists.pairs = 0;
    }
  }
  auto& kept = lists.lists[key];
  if (!kept.list || kept.list->size() < list->size()) {  // a concurrent longer one stays
    lists.pairs += list->size() - (kept.list ? kept.list->size() : 0);
    kept.list = list;
  }
  return list;
}

std::vector<float> ServingModel::SimilarQuery(int64_t i) const {
  const int d = model->dim();
  if (item_to_item) {
    auto q = model->FoldIn({{static_cast<int32_t>(i), 1.0f}});
    if (q.ok() && static_cast<int>(q->size()) == d) return std::move(*q);
  }
  const float* row = model->item_embeddings().data() + i * d;
  return std::vector<float>(row, row + d);
}

std::shared_ptr<const ServingModel::Candidates> ServingModel::SimilarCandidates(int64_t i, int k) const {
  k = std::clamp(k, 1, kSimilarCandidates);
  const auto need = static_cast<size_t>(std::max<int64_t>(0, std::min<int64_t>(k, index->size() - 1)));
  return Kept(similar_, i, need, KeptPairsBound(item_ids.size()), [&] {
    ann::ItemIndex::Filter not_self = [i](int64_t j) { return j != i; };
    const std::vector<float> q = SimilarQuery(i);
    return index->Search(q.data(), k, &not_self);
  });
}

std::shared_ptr<const ServingModel::Candidates> ServingModel::UserCandidates(int64_t u) const {
  const auto need = static_cast<size_t>(std::min<int64_t>(kUserCandidates, index->size()));
  return Kept(user_candidates_, u, need, KeptPairsBound(user_ids.size()), [&] {
    return index->Search(model->user_embeddings().data() + u * model->dim(), kUserCandidates, nullptr);
  });
}

void DeployedModels::SetLoader(Loader load, int64_t budget_bytes) {
  std::lock_guard lock(mu_);
  load_ = std::move(load);
  budget_ = budget_bytes;
}

std::shared_ptr<const DeployedModels::LiveSet> DeployedModels::Acquire(
    const std::string& tenant_id) const {
  std::vector<std::shared_ptr<const LiveSet>> released;  // freed after the lock (declared first)
  std::unique_lock lock(mu_);
  while (true) {
    if (auto it = models_.find(tenant_id); it != models_.end()) {
      lru_.splice(lru_.begin(), lru_, it->second.lru);  // most recently used
      return it->second.live;
    }
    if (!load_ || absent_.count(tenant_id)) return nullptr;
    if (!loading_.count(tenant_id)) break;
    loaded_cv_.wait(lock);  // another request is reading it
  }
  // Read it, without the lock (disk and index building); a deploy meanwhile
  // wins over what was read (its generation moved on).
  loading_.insert(tenant_id);
  const uint64_t generation = generation_[tenant_id];
  lock.unlock();
  StatusOr<Loaded> loaded = Status::Internal("not read");
  try {
    loaded = load_(tenant_id);
  } catch (const std::exception& e) {  // the waiters must not wait forever
    loaded = Status::Internal(e.what());
  }
  lock.lock();
  loading_.erase(tenant_id);
  ++loads_;
  if (generation_[tenant_id] == generation) {
    if (!loaded.ok()) {
      problems_[tenant_id] = "its models could not be read: " + loaded.status().message();
    } else {
      if (loaded->problem.empty()) problems_.erase(tenant_id);
      else problems_[tenant_id] = loaded->problem;
      if (loaded->live.empty()) absent_.insert(tenant_id);
      else InstallLocked(tenant_id, std::make_shared<const LiveSet>(std::move(loaded->live)), &released);
    }
  }
  loaded_cv_.notify_all();
  auto it = models_.find(tenant_id);
  auto live = it == models_.end() ? nullptr : it->second.live;
  lock.unlock();
  return live;
}

void DeployedModels::InstallLocked(const std::string& tenant_id, std::shared_ptr<const LiveSet> live,
                                   std::vector<std::shared_ptr<const LiveSet>>* released) const {
  auto it = models_.find(tenant_id);
  if (it != models_.end()) {
    released->push_back(std::move(it->second.live));
    bytes_ -= it->second.bytes;
    lru_.erase(it->second.lru);
    models_.erase(it);
  }
  absent_.erase(tenant_id);
  if (!live) return;
  Entry r;
  for (const auto& l : *live) r.bytes += l.model->bytes;
  r.live = std::move(live);
  lru_.push_front(tenant_id);
  r.lru = lru_.begin();
  bytes_ += r.bytes;
  models_.emplace(tenant_id, std::move(r));
  // Over the budget: the least recently used tenants go (never the one just
  // installed; requests holding their models finish with them).
  while (load_ && budget_ > 0 && bytes_ > budget_ && lru_.size() > 1) {
    const std::string victim = lru_.back();
    auto v = models_.find(victim);
    released->push_back(std::move(v->second.live));
    bytes_ -= v->second.bytes;
    lru_.pop_back();
    models_.erase(v);
    ++evictions_;
  }
}

bool DeployedModels::Resident(const std::string& tenant_id) const {
  std::lock_guard lock(mu_);
  return !load_ || models_.count(tenant_id) || absent_.count(tenant_id);
}

bool DeployedModels::ServesOnly(const std::string& tenant_id, std::string_view version) const {
  std::lock_guard lock(mu_);
  auto it = models_.find(tenant_id);
  if (it == models_.end() || !it->second.live || it->second.live->size() != 1) return false;
  const auto& model = it->second.live->front().model;
  return model && model->version == version;
}

bool DeployedModels::Reading(const std::string& tenant_id) const {
  std::lock_guard lock(mu_);
  return loading_.count(tenant_id) > 0;
}

DeployedModels::Residency DeployedModels::residency() const {
  std::lock_guard lock(mu_);
  return {static_cast<int64_t>(models_.size()), bytes_, budget_, loads_, evictions_};
}

std::shared_ptr<const ServingModel> DeployedModels::Get(const std::string& tenant_id) const {
  auto live = Acquire(tenant_id);
  return live ? live->front().model : nullptr;
}

namespace {
// Where `user_id` falls in [0, 1) for the split of `tenant_id`'s traffic.
double TrafficPoint(std::string_view tenant_id, std::string_view user_id) {
  // FNV-1a over "tenant\nuser", then a 64-bit finaliser (splitmix) so that
  // nearby ids spread over [0, 1).
  uint64_t h = 1469598103934665603ull;
  auto mix = [&h](std::string_view s) {
    for (unsigned char c : s) h = (h ^ c) * 1099511628211ull;
  };
  mix(tenant_id);
  mix("\n");
  mix(user_id);
  h = MixBits64(h);
  return static_cast<double>(h >> 11) * 0x1.0p-53;
}
}  // namespace

std::shared_ptr<const ServingModel> DeployedModels::For(const std::string& tenant_id,
                                                        std::string_view user_id) const {
  std::shared_ptr<const LiveSet> live = Acquire(tenant_id);
  if (!live) return nullptr;
  if (live->size() == 1) return live->front().model;
  double total = 0;
  for (const auto& l : *live) total += l.weight;
  const double point = TrafficPoint(tenant_id, user_id) * total;
  double upto = 0;
  for (const auto& l : *live) {
    upto += l.weight;
    if (point < upto) return l.model;
  }
  return live->back().model;
}

std::shared_ptr<const ServingModel> DeployedModels::Find(const std::string& tenant_id,
                                                         std::string_view version) const {
  auto live = Acquire(tenant_id);
  if (!live) return nullptr;
  for (const auto& l : *live) {
    if (l.model->version == version) return l.model;
  }
  return nullptr;
}

std::vector<LiveVersion> DeployedModels::Live(const std::string& tenant_id) const {
  auto live = Acquire(tenant_id);
  return live ? *live : std::vector<LiveVersion>{};
}

void DeployedModels::Set(const std::string& tenant_id, std::shared_ptr<const ServingModel> model) {
  std::shared_ptr<const LiveSet> live =
      model ? std::make_shared<const LiveSet>(LiveSet{{std::move(model), 1.0}}) : nullptr;
  const bool none = !live;
  std::vector<std::shared_ptr<const LiveSet>> released;  // freed outside the lock
  std::lock_guard lock(mu_);
  problems_.erase(tenant_id);
  ++generation_[tenant_id];
  InstallLocked(tenant_id, std::move(live), &released);
  if (none) absent_.insert(tenant_id);
}

Status DeployedModels::SetLive(const std::string& tenant_id, std::vector<LiveVersion> live) {
  if (live.empty()) return Status::InvalidArgument("a tenant's live versions cannot be none");
  for (size_t i = 0; i < live.size(); ++i) {
    if (!live[i].model) return Status::InvalidArgument("a live version without a model");
    if (!(live[i].weight > 0) || !std::isfinite(live[i].weight)) {
      return Status::InvalidArgument("the weight of live version " + live[i].model->version + " is not > 0");
    }
    for (size_t j = 0; j < i; ++j) {
      if (live[j].model->version == live[i].model->version) {
        return Status::InvalidArgument("version " + live[i].model->version + " is live twice");
      }
    }
  }
  auto set = std::make_shared<const LiveSet>(std::move(live));
  std::vector<std::shared_ptr<const LiveSet>> released;  // freed outside the lock
  std::lock_guard lock(mu_);
  problems_.erase(tenant_id);
  ++generation_[tenant_id];
  InstallLocked(tenant_id, std::move(set), &released);
  return Status::Ok();
}

void DeployedModels::Evict(const std::string& tenant_id) {
  std::shared_ptr<const LiveSet> released;  // freed after the lock (declared first)
  std::lock_guard lock(mu_);
  if (!load_) return;
  absent_.erase(tenant_id);
  auto it = models_.find(tenant_id);
  if (it == models_.end()) return;
  released = std::move(it->second.live);
  bytes_ -= it->second.bytes;
  lru_.erase(it->second.lru);
  models_.erase(it);
  ++evictions_;
}

void DeployedModels::SetProblem(const std::string& tenant_id, std::string problem) {
  std::lock_guard lock(mu_);
  problems_[tenant_id] = std::move(problem);
}

std::map<std::string, std::string> DeployedModels::Problems() const {
  std::lock_guard lock(mu_);
  return problems_;
}

}  // namespace embedrec::serving
