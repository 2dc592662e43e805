// An in-memory ImportBatch for importer tests: records what it is given and
// mimics the store's rules (users created on demand, exact duplicates ignored).
#pragma once

#include <set>
#include <tuple>

#include "store/tenant_stores.h"

namespace embedrec::ingest::testing {

class FakeImportBatch final : public store::ImportBatch {
 public:
  Status UpsertItem(const store::ItemRecord& item, int64_t) override {
    items.push_back(item);
    return Status::Ok();
  }
  StatusOr<int64_t> DeleteItemsNotUpserted(int64_t) override { return int64_t{0}; }
  StatusOr<int64_t> EnsureUser(const std::string& user_id, int64_t) override {
    auto it = user_index.find(user_id);
    if (it != user_index.end()) return it->second;
    int64_t idx = static_cast<int64_t>(users.size()) + 1000;
    users.push_back(user_id);
    user_index.emplace(user_id, idx);
    return idx;
  }
  StatusOr<bool> InsertInteraction(const store::InteractionRecord& r) override {
    auto key = std::make_tuple(r.user_idx, r.item_idx.value_or(-1), r.type, r.ts_ms);
    if (!seen.insert(key).second) return false;
    interactions.push_back(r);
    return true;
  }
  Status RecordUpload(const store::UploadRecord&) override { return Status::Ok(); }
  Status AppendEvent(const std::string&, const std::string&, int64_t) override {
    return Status::Ok();
  }
  Status Commit() override { return Status::Ok(); }

  std::vector<store::ItemRecord> items;
  std::vector<std::string> users;
  std::vector<store::InteractionRecord> interactions;
  IdMap user_index;  // users the batch knows (snapshot users plus those added)
  std::set<std::tuple<int64_t, int64_t, std::string, int64_t>> seen;
};

}  // namespace embedrec::ingest::testing
