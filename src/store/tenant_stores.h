// Per-tenant storage spaces: each tenant's data lives in a database of its
// own (and, beside it, a blob area), so isolation holds by construction: a
// handler holding tenant A's store cannot read tenant B's rows, whatever its
// WHERE clauses say. A tenant's space can be exported or deleted as a unit.
//
// Thread safety: all classes here are safe for concurrent use. Methods block
// on I/O: call from worker threads.
#pragma once

#include <memory>
#include <string>

#include "common/status.h"

namespace embedrec::store {

// One tenant's database. Later issues add catalog, interactions and models.
class TenantStore {
 public:
  virtual ~TenantStore() = default;
  virtual const std::string& tenant_id() const = 0;
  virtual Status Ping() = 0;
  virtual int SchemaVersion() const = 0;
};

// The set of tenant spaces.
class TenantStores {
 public:
  virtual ~TenantStores() = default;
  // Creates the space of a new tenant (idempotent). kInvalidArgument for an id
  // that is not a lowercase UUID (ids become directory names).
  virtual Status Create(const std::string& tenant_id) = 0;
  // The tenant's store, opened once and shared. kNotFound when the space does not exist.
  virtual StatusOr<std::shared_ptr<TenantStore>> Open(const std::string& tenant_id) = 0;
  // Closes and deletes the tenant's whole space. Holders of the store keep a
  // usable handle until they drop it. OK when already absent.
  virtual Status Drop(const std::string& tenant_id) = 0;
  // Directory (or URL) of the tenant's blob area.
  virtual std::string BlobRoot(const std::string& tenant_id) const = 0;
};

// Embedded backend: `root`/<tenant_id>/tenant.db and `root`/<tenant_id>/blobs/.
std::unique_ptr<TenantStores> NewSqliteTenantStores(const std::string& root);

// True for a lowercase RFC 4122 UUID string.
bool IsUuid(std::string_view s);

}  // namespace embedrec::store
