// The users an upload brings that the tenant does not know yet, in memory
// that does not grow with their number.
//
// Each new user id gets a provisional key, kNewUserBase + a keyed 62-bit hash
// of the id (a fresh key per upload), at once and without a lookup table: the
// rows carry it through the external sort. The ids themselves are collected
// in chunks of at most `chunk_users` distinct ids; a full chunk is sorted by
// key and spilled as a run to an anonymous temporary file. Finish() merges the
// runs; Next() then yields each id once, in key order — the order the sorted
// rows come in, so the writer walks both together and creates each user just
// before its rows (increasing user_idx in key order keeps the rows' inserts in
// the store's key order).
//
// Two ids with one hash (about one upload in 10^6 at five million new users)
// are detected while merging: Next() fails with kUnavailable before the rows
// of either are written, and the upload can simply be sent again (another key).
//
// Memory: chunk_users ids, plus kMergeBufferBytes per run while merging.
// Not thread safe: one import, one thread.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <unordered_set>
#include <vector>

#include "common/status.h"

namespace embedrec::ingest {

class NewUsers {
 public:
  static constexpr size_t kDefaultChunkUsers = size_t{1} << 18;
  static constexpr size_t kMergeBufferBytes = size_t{1} << 16;
  // 62 bits of a hash of the id. Tests may pass a weak one.
  using Hash = std::function<uint64_t(std::string_view)>;

  // Spill files go to `spill_dir` (unlinked at once). `hash` null: SipHash
  // with a random key.
  explicit NewUsers(std::string spill_dir, size_t chunk_users = kDefaultChunkUsers, Hash hash = nullptr);
  ~NewUsers();
  NewUsers(const NewUsers&) = delete;
  NewUsers& operator=(const NewUsers&) = delete;

  // The provisional key of `user_id` (≥ kNewUserBase); the id is kept.
  // REQUIRES: Finish() not called yet.
  StatusOr<int64_t> Add(std::string_view user_id);
  Status Finish();
  // The next distinct id and its key, in key order; false after the last.
  // kUnavailable when two ids share a key. REQUIRES: Finish() returned OK.
  StatusOr<bool> Next(int64_t* key, std::string* user_id);

  size_t runs_spilled() const { return runs_.size(); }

 private:
  struct Entry {
    int64_t key;
    std::string id;
  };
  struct Run {
    uint64_t offset = 0, end = 0;  // bytes of the spill file
    std::string buf;               // bytes read ahead
    size_t pos = 0;
    Entry head;
    bool has_head = false;
  };
  int64_t KeyOf(std::string_view user_id) const;
  // The chunk's ids with their keys, sorted by (key, id); the chunk is left empty.
  std::vector<Entry> TakeChunk();
  Status Spill();
  Status Advance(Run& run);  // the run's next entry into head
  bool HeadAfter(size_t a, size_t b) const;

  std::string spill_dir_;
  size_t chunk_users_;
  Hash hash_;
  std::unordered_set<std::string> chunk_;
  std::vector<Entry> sorted_;  // the last chunk, sorted, when nothing was spilled
  size_t sorted_pos_ = 0;
  int fd_ = -1;
  uint64_t spilled_bytes_ = 0;
  std::vector<Run> runs_;
  std::vector<size_t> heap_;  // runs with entries left, min-heap by head
  bool have_last_ = false;
  Entry last_;                // the last entry yielded, for duplicates and collisions
};

}  // namespace embedrec::ingest
