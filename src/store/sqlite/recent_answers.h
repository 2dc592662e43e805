// One tenant's recent recommendation answers by user, in memory: where the
// embedded recommendation log finds a user's answers for attribution
// (RecommendationLog::ReadUser, UsersSince) instead of a by-user index on
// disk, whose random leaf page per answer was most of the log writer's cost
// (docs/benchmarks.md, the forty-seventh session).
//
// It holds each answer's time and row id (the row itself stays in the log's
// table), the newest `per_user` of each user, those within `horizon_ms` (a
// day: the longest click window a tenant may set), at most `max_entries` in
// all. What it dropped is said, not guessed: Find names the part of the asked
// range that it may lack (the caller reads that part from the table).
//
// Thread safety: none; the log guards each tenant's with a mutex.
#pragma once

#include <cstdint>
#include <string>
#include <unordered_map>
#include <vector>

namespace embedrec::store {

class RecentAnswers {
 public:
  struct Options {
    int64_t horizon_ms = 86'400'000;
    size_t per_user = 32;
    size_t max_entries = 4'000'000;  // ~16 bytes each, plus ~100 per user
  };
  struct Entry {
    int64_t ts_ms = 0;
    int64_t rowid = 0;
  };

  // Knows every answer with ts_ms >= covered_since_ms that is added (those
  // before it may be missing).
  RecentAnswers(int64_t covered_since_ms, Options options);
  explicit RecentAnswers(int64_t covered_since_ms) : RecentAnswers(covered_since_ms, Options()) {}

  // An answer to `user_id` (never empty), added in the order the rows were
  // written.
  void Add(const std::string& user_id, int64_t ts_ms, int64_t rowid);

  // The user's answers with from_ms <= ts_ms < to_ms, newest first (ties: the
  // later row first), at most `limit`. *missing_to is set so that answers in
  // [from_ms, *missing_to) may be missing from that list and must be read
  // elsewhere; *missing_to == from_ms when the list is the whole answer.
  std::vector<Entry> Find(const std::string& user_id, int64_t from_ms, int64_t to_ms, size_t limit,
                          int64_t* missing_to) const;

  // The users with an answer at ts_ms >= from_ms, at most `limit`; false
  // (and nothing) when answers that early may be missing here.
  bool UsersSince(int64_t from_ms, size_t limit, std::vector<std::string>* out) const;

  // Forgets answers older than now_ms - horizon, and the oldest more while
  // over max_entries; what is covered starts later accordingly.
  void Expire(int64_t now_ms);

  size_t entries() const { return entries_; }
  // Memory held (estimated: the answers, each user's entry and id, the table).
  int64_t bytes() const;
  size_t users() const { return users_.size(); }
  int64_t covered_since() const { return covered_since_; }

 private:
  struct User {
    std::vector<Entry> answers;  // in the order added, at most per_user
    int64_t dropped_ts = INT64_MIN;  // the newest time of an answer dropped for per_user
  };
  void DropBefore(int64_t ts_ms);

  const Options options_;
  int64_t covered_since_;
  size_t entries_ = 0;
  std::unordered_map<std::string, User> users_;
};

}  // namespace embedrec::store
