#include "store/sqlite/recent_answers.h"

#include <algorithm>

namespace embedrec::store {

RecentAnswers::RecentAnswers(int64_t covered_since_ms, Options options)
    : options_(options), covered_since_(covered_since_ms) {}

void RecentAnswers::Add(const std::string& user_id, int64_t ts_ms, int64_t rowid) {
  User& u = users_[user_id];
  if (u.answers.size() >= std::max<size_t>(options_.per_user, 1)) {  // full: the oldest goes
    u.dropped_ts = std::max(u.dropped_ts, u.answers.front().ts_ms);
    u.answers.erase(u.answers.begin());
    --entries_;
  }
  u.answers.push_back({ts_ms, rowid});
  ++entries_;
}

std::vector<RecentAnswers::Entry> RecentAnswers::Find(const std::string& user_id, int64_t from_ms, int64_t to_ms,
                                                      size_t limit, int64_t* missing_to) const {
  std::vector<Entry> out;
  // Answers before this may be missing: those before the covered time, and
  // for a user with dropped answers, up to the newest dropped one (its time
  // included: a kept answer may share it).
  int64_t missing_before = covered_since_;
  auto it = users_.find(user_id);
  if (it != users_.end()) {
    const User& u = it->second;
    if (u.dropped_ts != INT64_MIN) missing_before = std::max(missing_before, u.dropped_ts + 1);
    for (const Entry& e : u.answers) {
      if (e.ts_ms >= from_ms && e.ts_ms < to_ms) out.push_back(e);
    }
  }
  std::sort(out.begin(), out.end(), [](const Entry& a, const Entry& b) {
    return a.ts_ms != b.ts_ms ? a.ts_ms > b.ts_ms : a.rowid > b.rowid;
  });
  // Whole when `limit` answers at or after missing_before are listed (what may
  // be missing is older than all of them), or nothing of the range can be.
  const bool whole = (out.size() >= limit && limit > 0 && out[limit - 1].ts_ms >= missing_before) ||
                     missing_before <= from_ms;
  if (out.size() > limit) out.resize(limit);
  *missing_to = whole ? from_ms : std::min(missing_before, to_ms);
  return out;
}

bool RecentAnswers::UsersSince(int64_t from_ms, size_t limit, std::vector<std::string>* out) const {
  if (from_ms < covered_since_) return false;
  for (const auto& [user, u] : users_) {
    if (out->size() >= limit) break;
    // Dropped answers are older than every kept one: the newest is kept.
    if (std::any_of(u.answers.begin(), u.answers.end(), [&](const Entry& e) { return e.ts_ms >= from_ms; })) {
      out->push_back(user);
    }
  }
  return true;
}

int64_t RecentAnswers::bytes() const {
  // Without a walk (a million users would hold the lock for milliseconds):
  // a user is its hash node (key, vector, time, next pointer, cached hash)
  // and the allocator's rounding, plus ~16 bytes of id beyond the string's
  // own buffer; an answer is its entry, with a third more for the vectors'
  // room to grow; and the bucket table.
  const size_t node = sizeof(std::pair<const std::string, User>) + 2 * sizeof(void*) + 16;
  return static_cast<int64_t>(users_.bucket_count() * sizeof(void*) + users_.size() * (node + 16) +
                              entries_ * sizeof(Entry) * 4 / 3);
}

void RecentAnswers::DropBefore(int64_t ts_ms) {
  for (auto it = users_.begin(); it != users_.end();) {
    auto& answers = it->second.answers;
    const size_t before = answers.size();
    std::erase_if(answers, [&](const Entry& e) { return e.ts_ms < ts_ms; });
    entries_ -= before - answers.size();
    if (answers.empty()) {
      it = users_.erase(it);
    } else {
      if (it->second.dropped_ts < ts_ms) it->second.dropped_ts = INT64_MIN;  // before the covered time anyway
      ++it;
    }
  }
  covered_since_ = std::max(covered_since_, ts_ms);
}

void RecentAnswers::Expire(int64_t now_ms) {
  int64_t horizon = now_ms - options_.horizon_ms;
  DropBefore(horizon);
  // Over the bound: halve the time kept until it fits (each pass drops the
  // older half of what is left in time, a pass per halving).
  while (entries_ > options_.max_entries && horizon < now_ms) {
    horizon += std::max<int64_t>((now_ms - horizon) / 2, 1);
    DropBefore(horizon);
  }
}

}  // namespace embedrec::store
