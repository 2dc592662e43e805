// What a recommendation log backend provides (store/recommendation_log.h):
// where the records are kept and read. The queue in front of it (records
// appended on the answer path, written in the background in batches, a
// transaction per tenant, pruned hourly) is the same for every backend:
// NewQueuedRecommendationLog.
//
// Thread safety: a RecommendationRows is called from the log's writer
// thread (Write, Close) and from readers at once.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "store/recommendation_log.h"

namespace embedrec::store {

class RecommendationRows {
 public:
  virtual ~RecommendationRows() = default;

  // Writes the tenant's records in one transaction (a record whose id is
  // stored already is skipped), and deletes those with ts_ms < prune_before_ms
  // when it is > 0. kNotFound when the tenant has no space.
  virtual Status Write(const std::string& tenant_id, const std::vector<const RecommendationRecord*>& records,
                       int64_t prune_before_ms) = 0;
  // As RecommendationLog's, reading what is written.
  virtual StatusOr<std::optional<RecommendationRecord>> Find(const std::string& tenant_id,
                                                             const std::string& id) = 0;
  virtual StatusOr<std::vector<RecommendationRecord>> Read(const std::string& tenant_id,
                                                           const RecommendationLog::Range& range) = 0;
  virtual StatusOr<std::vector<RecommendationRecord>> ReadUser(const std::string& tenant_id,
                                                               const std::string& user_id, int64_t from_ms,
                                                               int64_t to_ms, int limit) = 0;
  virtual StatusOr<std::vector<std::string>> UsersSince(const std::string& tenant_id, int64_t from_ms,
                                                        size_t limit) = 0;
  // Lets go of the tenant's handles, if any (never while Write runs).
  virtual void Close(const std::string& tenant_id) = 0;
  // As RecommendationLog's, in all and for one tenant.
  virtual int64_t resident_bytes() const { return 0; }
  virtual int64_t resident_bytes(const std::string& tenant_id) const { return 0; }
};

std::unique_ptr<RecommendationLog> NewQueuedRecommendationLog(std::unique_ptr<RecommendationRows> rows,
                                                              const Clock* clock, RecommendationLogOptions options);

// A record's items as stored: [["item_id", score], ...] in the order shown.
std::string EncodeShownItems(const std::vector<ShownItem>& items);
std::vector<ShownItem> DecodeShownItems(const std::string& text);

}  // namespace embedrec::store
