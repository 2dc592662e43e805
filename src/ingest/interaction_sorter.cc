#include "ingest/interaction_sorter.h"

#include <unistd.h>

#include <algorithm>
#include <tuple>

#include "common/file_util.h"

namespace embedrec::ingest {

bool KeyLess(const PackedInteraction& a, const PackedInteraction& b) {
  return std::tie(a.user_key, a.item_idx, a.type, a.ts_ms) <
         std::tie(b.user_key, b.item_idx, b.type, b.ts_ms);
}

bool SameKey(const PackedInteraction& a, const PackedInteraction& b) {
  return a.user_key == b.user_key && a.item_idx == b.item_idx && a.type == b.type &&
         a.ts_ms == b.ts_ms;
}

constexpr const char* kWhat = "import spill file";

InteractionSorter::InteractionSorter(std::string spill_dir, size_t chunk_rows)
    : spill_dir_(std::move(spill_dir)), chunk_rows_(std::max<size_t>(chunk_rows, 1)) {}

InteractionSorter::~InteractionSorter() {
  if (fd_ >= 0) ::close(fd_);
}

Status InteractionSorter::Add(const PackedInteraction& row) {
  if (buffer_.size() >= chunk_rows_) RETURN_IF_ERROR(Spill());
  if (buffer_.capacity() == 0) buffer_.reserve(std::min<size_t>(chunk_rows_, 1 << 16));
  buffer_.push_back(row);
  return Status::Ok();
}

Status InteractionSorter::Spill() {
  if (fd_ < 0) {
    ASSIGN_OR_RETURN(fd_, CreateAnonymousFile(spill_dir_, kWhat));
  }
  std::sort(buffer_.begin(), buffer_.end(), KeyLess);
  RETURN_IF_ERROR(PWriteAll(fd_, buffer_.data(), buffer_.size() * sizeof(PackedInteraction),
                            spilled_rows_ * sizeof(PackedInteraction), kWhat));
  Run run;
  run.offset = spilled_rows_;
  run.rows = buffer_.size();
  runs_.push_back(std::move(run));
  spilled_rows_ += buffer_.size();
  buffer_.clear();
  return Status::Ok();
}

Status InteractionSorter::Refill(Run& run) {
  size_t n = static_cast<size_t>(std::min<uint64_t>(kMergeBufferRows, run.rows - run.next));
  run.buf.resize(n);
  run.pos = 0;
  RETURN_IF_ERROR(PReadAll(fd_, run.buf.data(), n * sizeof(PackedInteraction),
                          (run.offset + run.next) * sizeof(PackedInteraction), kWhat));
  run.next += n;
  return Status::Ok();
}

bool InteractionSorter::HeadAfter(size_t a, size_t b) const {
  return KeyLess(runs_[b].buf[runs_[b].pos], runs_[a].buf[runs_[a].pos]);
}

Status InteractionSorter::Finish() {
  if (runs_.empty()) {  // everything fits in memory
    std::sort(buffer_.begin(), buffer_.end(), KeyLess);
    return Status::Ok();
  }
  if (!buffer_.empty()) RETURN_IF_ERROR(Spill());
  buffer_ = {};  // free the chunk before merging
  for (size_t i = 0; i < runs_.size(); ++i) {
    RETURN_IF_ERROR(Refill(runs_[i]));
    heap_.push_back(i);
  }
  std::make_heap(heap_.begin(), heap_.end(), [this](size_t a, size_t b) { return HeadAfter(a, b); });
  return Status::Ok();
}

StatusOr<bool> InteractionSorter::Next(PackedInteraction* out) {
  if (runs_.empty()) {
    if (buffer_pos_ >= buffer_.size()) return false;
    *out = buffer_[buffer_pos_++];
    return true;
  }
  if (heap_.empty()) return false;
  auto greater = [this](size_t a, size_t b) { return HeadAfter(a, b); };
  std::pop_heap(heap_.begin(), heap_.end(), greater);
  Run& run = runs_[heap_.back()];
  *out = run.buf[run.pos++];
  if (run.pos == run.buf.size()) {
    if (run.next == run.rows) {
      run.buf = {};
      heap_.pop_back();
      return true;
    }
    RETURN_IF_ERROR(Refill(run));
  }
  std::push_heap(heap_.begin(), heap_.end(), greater);
  return true;
}

}  // namespace embedrec::ingest
