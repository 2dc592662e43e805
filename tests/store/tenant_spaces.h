// Tenants' spaces for the suites of stores that keep rows in them (the
// analytics store, the recommendation log): a directory under the test's
// root (SQLite) or a schema in the test database (PostgreSQL, made and
// dropped by the tenant stores as in production).
#pragma once

#include <filesystem>
#include <memory>
#include <string>

#include "local_services.h"
#include "store/tenant_stores.h"

namespace embedrec::testing {

inline void MakeDirectorySpace(const std::string& root, const std::string& tenant) {
  std::filesystem::create_directories(root + "/" + tenant);
}

inline std::optional<std::string> TestDatabaseUrl() { return LocalService("EMBEDREC_TEST_DATABASE_URL"); }

// The tenant stores over the test database (null when it is not running).
inline store::TenantStores* PgSpaces() {
  static std::unique_ptr<store::TenantStores> stores = [] {
    std::unique_ptr<store::TenantStores> out;
    if (auto url = TestDatabaseUrl()) {
      auto s = store::NewPostgresTenantStores(*url, RealClock());
      if (s.ok()) out = std::move(s).value();
    }
    return out;
  }();
  return stores.get();
}

inline void MakeSchemaSpace(const std::string&, const std::string& tenant) {
  if (auto* spaces = PgSpaces()) (void)spaces->Create(tenant);
}
inline void DropSchemaSpace(const std::string& tenant) {
  if (auto* spaces = PgSpaces()) (void)spaces->Drop(tenant);
}

}  // namespace embedrec::testing
