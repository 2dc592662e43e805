// A tenant's model versions: naming, storing (model file and index in the
// tenant's blob area, then the version record), the deployment gate,
// deploying (record + event in one transaction, then the in-memory swap),
// retention, and loading what a tenant serves at start-up (falling back to
// the previous good version when the deployed one cannot be read).
//
// Thread safety: safe for concurrent use across tenants; the training
// service runs one job per tenant, and Deploy calls for one tenant are
// serialised here.
#pragma once

#include <functional>
#include <memory>
#include <mutex>
#include <string>

#include "ann/item_index.h"
#include "blob/blob_store.h"
#include "common/clock.h"
#include "ml/model_file.h"
#include "serving/deployed_models.h"
#include "store/tenant_stores.h"

namespace embedrec::training {

struct RegistryOptions {
  int keep_versions = 5;       // besides the deployed one and those younger than min_age
  int64_t min_age_days = 30;   // versions younger than this are never removed
  ann::IndexOptions index;
  // Told of every deploy once committed (its model-deployed event written); may be null.
  std::function<void(const std::string& tenant_id)> deployed;
};

class ModelRegistry {
 public:
  using OpenBlobs =
      std::function<StatusOr<std::unique_ptr<blob::BlobStore>>(const std::string& tenant_id)>;
  ModelRegistry(store::TenantStores* tenants, OpenBlobs open_blobs, serving::DeployedModels* deployed,
                const Clock* clock, RegistryOptions options)
      : tenants_(tenants), open_blobs_(std::move(open_blobs)), deployed_(deployed), clock_(clock),
        options_(std::move(options)) {}

  const RegistryOptions& options() const { return options_; }

  // The next version name: a full training starts a new major version, an
  // incremental one the next minor version of `base_major`.
  StatusOr<store::ModelVersionRecord> NextVersion(store::TenantStore& store, bool incremental,
                                                  int base_major);

  // Writes the model file and the index to the blob area and records the
  // version (`v` filled: keys, size, created_at) with status standby.
  Status Store(const std::string& tenant_id, store::TenantStore& store,
               store::ModelVersionRecord* v, const ml::ModelArtifact& artifact,
               const std::string& index_bytes);

  // Makes `version` the tenant's deployed model: loads it (a damaged file is
  // refused and nothing changes), records it (the previous one archived,
  // a model-deployed event appended), then swaps it into serving.
  StatusOr<store::ModelVersionRecord> Deploy(const std::string& tenant_id, store::TenantStore& store,
                                             const std::string& version, const std::string& reason);

  // Splits the tenant's users between live versions by weight (> 0 each,
  // the deployed version among them, at most kMaxLive): each version is
  // loaded (one that cannot be is refused and nothing changes), the split
  // recorded with a traffic-changed event, then swapped into serving. A
  // deploy ends any split (the deployed version gets all the traffic).
  static constexpr size_t kMaxLive = 4;
  using Split = std::vector<std::pair<std::string, double>>;  // version, weight
  Status SetTraffic(const std::string& tenant_id, store::TenantStore& store, const Split& split);

  // Deletes a version that is not deployed and serves no traffic (record and blobs).
  Status Delete(const std::string& tenant_id, store::TenantStore& store, const std::string& version);

  // Removes versions beyond the retention rule; returns how many.
  StatusOr<int> ApplyRetention(const std::string& tenant_id, store::TenantStore& store);

  // What the tenant serves, read from storage (serving's loader calls it on
  // the tenant's first use): its deployed version, or, when it cannot be
  // read, the newest older version that can (the problem is returned for
  // /readyz, and logged), with the other live versions of its traffic split
  // (one that cannot be read is left out, and reported). No version when the
  // tenant has no deployed one.
  StatusOr<serving::DeployedModels::Loaded> ReadDeployed(const std::string& tenant_id,
                                                          store::TenantStore& store);

  // A URL naming a blob of the tenant, for people ("file:///…").
  std::string Location(const std::string& tenant_id, const std::string& key);

  // Reads a stored version's model file (e.g. to warm-start from it).
  StatusOr<ml::ModelArtifact> ReadArtifact(const std::string& tenant_id,
                                           const store::ModelVersionRecord& v);

 private:
  StatusOr<std::shared_ptr<const serving::ServingModel>> Load(const std::string& tenant_id,
                                                              const store::ModelVersionRecord& v);

  store::TenantStores* tenants_;
  OpenBlobs open_blobs_;
  serving::DeployedModels* deployed_;
  const Clock* clock_;
  RegistryOptions options_;
  std::mutex deploy_mu_;  // one deploy at a time: record and swap stay in the same order
};

// "v<major>.<minor>_<YYYYMMDD>".
std::string VersionName(int major, int minor, int64_t now_ms);

}  // namespace embedrec::training
