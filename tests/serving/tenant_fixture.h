// A fixture for serving tests: one tenant's store (SQLite, in a temporary
// directory) and a fake clock.
#pragma once

#include <latch>
#include <memory>
#include <thread>
#include <vector>

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
  // Commits catalog items with these ids (of `category`).
  void AddItems(std::initializer_list<const char*> ids, const std::string& category = "") {
    auto batch = store_->BeginImport();
    ASSERT_OK(batch);
    store::ItemRecord item;
    item.category = category;
    for (const char* id : ids) {
      item.item_id = id;
      ASSERT_OK((*batch)->UpsertItem(item, 1));
    }
    ASSERT_OK((*batch)->Commit());
  }
  // The item_idx the store gave `item_id` (committed items only): tests
  // never assume how a backend numbers rows.
  int64_t Idx(const std::string& item_id) {
    auto idx = store_->LoadItemIndex();
    EXPECT_TRUE(idx.ok());
    auto it = idx->find(item_id);
    EXPECT_TRUE(it != idx->end()) << item_id;
    return it == idx->end() ? -1 : it->second;
  }
  testing::TempDir dir_;
  FakeClock clock_;
  std::unique_ptr<store::TenantStores> stores_;
  std::string id_;
  std::shared_ptr<store::TenantStore> store_;
};

// Calls `get()` from `n` threads released at once; each call's snapshot
// (null when it failed), for tests of concurrent first requests.
template <typename Get>
auto AllAtOnce(int n, Get get) {
  using Snapshot = typename std::decay_t<decltype(*get())>;
  std::latch start(n);
  std::vector<Snapshot> got(n);
  std::vector<std::thread> threads;
  for (int i = 0; i < n; ++i) {
    threads.emplace_back([&, i] {
      start.arrive_and_wait();
      auto r = get();
      if (r.ok()) got[i] = *r;
    });
  }
  for (auto& t : threads) t.join();
  return got;
}

}  // namespace embedrec::serving
