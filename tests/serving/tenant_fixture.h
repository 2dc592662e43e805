// A fixture for serving tests: one tenant's store (SQLite, in a temporary
// directory) and a fake clock.
#pragma once

#include "common/clock.h"
#include "store/tenant_stores.h"
#include "test_util.h"

namespace embedrec::serving {

class TenantStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    stores_ = store::NewSqliteTenantStores(dir_.path());
    id_ = NewUuid();
    ASSERT_OK(stores_->Create(id_));
    store_ = *stores_->Open(id_);
  }
  testing::TempDir dir_;
  FakeClock clock_;
  std::unique_ptr<store::TenantStores> stores_;
  std::string id_;
  std::shared_ptr<store::TenantStore> store_;
};

}  // namespace embedrec::serving
