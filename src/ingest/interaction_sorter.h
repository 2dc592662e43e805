// External sort of validated interaction rows by the store's key order
// (user, item, type, time), in bounded memory.
//
// Why: inserting in key order turns the store's B-tree inserts into appends
// (pages written once, in order) instead of random page updates, which is
// what dominated large imports (docs/benchmarks.md). Rows are buffered up to
// `chunk_rows`, sorted, and spilled as a run to one anonymous temporary file;
// Finish() then merges the runs. With a single chunk nothing touches disk.
//
// Memory: chunk_rows * sizeof(PackedInteraction) for the buffer, plus
// kMergeBufferRows rows per run while merging.
// Not thread safe: one import, one thread.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "common/status.h"

namespace embedrec::ingest {

// A validated interaction in compact form (64 bytes, trivially copyable).
struct PackedInteraction {
  int64_t user_key = 0;   // user_idx, or a new user's provisional key (≥ kNewUserBase, NewUsers)
  int64_t item_idx = -1;  // -1: no item (impressions)
  int64_t ts_ms = 0;
  uint16_t type = 0;      // rank of the type's name among the allowed names (sorted)
  uint8_t present = 0;    // bit i set: vals[i] holds a value
  double vals[4] = {};    // rating, duration_seconds, value, quantity

  enum Field { kRating = 0, kDuration = 1, kValue = 2, kQuantity = 3 };
};
static_assert(sizeof(PackedInteraction) == 64);

// Users new to the tenant get provisional keys from here on (ingest/new_users.h:
// a hash of the id); the final user_idx is assigned, in key order, when the
// rows are written, so the sort order holds.
inline constexpr int64_t kNewUserBase = int64_t{1} << 40;

// Store key order: (user_key, item_idx, type, ts_ms).
bool KeyLess(const PackedInteraction& a, const PackedInteraction& b);
bool SameKey(const PackedInteraction& a, const PackedInteraction& b);

class InteractionSorter {
 public:
  static constexpr size_t kDefaultChunkRows = size_t{1} << 20;  // 64 MiB
  static constexpr size_t kMergeBufferRows = 4096;

  // Spill files are created in `spill_dir` and unlinked at once (nothing is
  // left behind by a crash).
  explicit InteractionSorter(std::string spill_dir, size_t chunk_rows = kDefaultChunkRows);
  ~InteractionSorter();
  InteractionSorter(const InteractionSorter&) = delete;
  InteractionSorter& operator=(const InteractionSorter&) = delete;

  // REQUIRES: Finish() not called yet.
  Status Add(const PackedInteraction& row);
  // Ends the input. Rows with equal keys keep no particular order.
  Status Finish();
  // The next row in key order; false after the last one.
  // REQUIRES: Finish() returned OK.
  StatusOr<bool> Next(PackedInteraction* out);

  size_t runs_spilled() const { return runs_.size(); }

 private:
  struct Run {
    uint64_t offset = 0;  // in rows, within the spill file
    uint64_t rows = 0;
    uint64_t next = 0;    // rows of the run already read into `buf`
    std::vector<PackedInteraction> buf;
    size_t pos = 0;
  };
  Status Spill();
  Status Refill(Run& run);
  // Heap order: run a's head comes after run b's.
  bool HeadAfter(size_t a, size_t b) const;

  std::string spill_dir_;
  size_t chunk_rows_;
  std::vector<PackedInteraction> buffer_;
  size_t buffer_pos_ = 0;  // when merging from memory only
  int fd_ = -1;
  uint64_t spilled_rows_ = 0;
  std::vector<Run> runs_;
  std::vector<size_t> heap_;  // indices of runs with rows left, min-heap by their head
};

}  // namespace embedrec::ingest
