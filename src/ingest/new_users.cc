#include "ingest/new_users.h"

#include <sodium.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <memory>
#include <tuple>

#include "common/file_util.h"
#include "ingest/interaction_sorter.h"

namespace embedrec::ingest {
namespace {

constexpr const char* kWhat = "import spill file (new users)";
constexpr uint64_t kHashMask = (uint64_t{1} << 62) - 1;

// SipHash-2-4 under a key drawn for this upload.
NewUsers::Hash RandomKeyedHash() {
  auto key = std::make_shared<std::array<unsigned char, crypto_shorthash_KEYBYTES>>();
  crypto_shorthash_keygen(key->data());
  return [key](std::string_view id) {
    unsigned char out[crypto_shorthash_BYTES];
    crypto_shorthash(out, reinterpret_cast<const unsigned char*>(id.data()), id.size(), key->data());
    uint64_t h;
    std::memcpy(&h, out, sizeof(h));
    return h;
  };
}

// A spilled entry: key (8 bytes), id length (2 bytes), id.
constexpr size_t kEntryHeader = 10;

}  // namespace

NewUsers::NewUsers(std::string spill_dir, size_t chunk_users, Hash hash)
    : spill_dir_(std::move(spill_dir)),
      chunk_users_(std::max<size_t>(chunk_users, 1)),
      hash_(hash ? std::move(hash) : RandomKeyedHash()) {}

NewUsers::~NewUsers() {
  if (fd_ >= 0) ::close(fd_);
}

int64_t NewUsers::KeyOf(std::string_view user_id) const {
  return kNewUserBase + static_cast<int64_t>(hash_(user_id) & kHashMask);
}

std::vector<NewUsers::Entry> NewUsers::TakeChunk() {
  std::vector<Entry> entries;
  entries.reserve(chunk_.size());
  while (!chunk_.empty()) {
    auto node = chunk_.extract(chunk_.begin());
    const int64_t key = KeyOf(node.value());
    entries.push_back({key, std::move(node.value())});
  }
  std::sort(entries.begin(), entries.end(),
            [](const Entry& a, const Entry& b) { return std::tie(a.key, a.id) < std::tie(b.key, b.id); });
  return entries;
}

StatusOr<int64_t> NewUsers::Add(std::string_view user_id) {
  if (user_id.size() > UINT16_MAX) return Status::InvalidArgument("user id too long");
  const int64_t key = KeyOf(user_id);
  if (chunk_.size() >= chunk_users_ && !chunk_.count(std::string(user_id))) RETURN_IF_ERROR(Spill());
  chunk_.emplace(user_id);
  return key;
}

Status NewUsers::Spill() {
  if (fd_ < 0) {
    ASSIGN_OR_RETURN(fd_, CreateAnonymousFile(spill_dir_, kWhat));
  }
  std::vector<Entry> entries = TakeChunk();
  Run run;
  run.offset = spilled_bytes_;
  std::string out;
  for (const auto& e : entries) {
    const uint16_t len = static_cast<uint16_t>(e.id.size());
    out.append(reinterpret_cast<const char*>(&e.key), sizeof(e.key));
    out.append(reinterpret_cast<const char*>(&len), sizeof(len));
    out += e.id;
    if (out.size() >= kMergeBufferBytes) {
      RETURN_IF_ERROR(PWriteAll(fd_, out.data(), out.size(), spilled_bytes_, kWhat));
      spilled_bytes_ += out.size();
      out.clear();
    }
  }
  RETURN_IF_ERROR(PWriteAll(fd_, out.data(), out.size(), spilled_bytes_, kWhat));
  spilled_bytes_ += out.size();
  run.end = spilled_bytes_;
  runs_.push_back(std::move(run));
  return Status::Ok();
}

Status NewUsers::Advance(Run& run) {
  // Makes `n` bytes available at run.pos (reading ahead); false at the end.
  auto ensure = [&](size_t n) -> StatusOr<bool> {
    if (run.buf.size() - run.pos >= n) return true;
    run.buf.erase(0, run.pos);
    run.pos = 0;
    while (run.buf.size() < n && run.offset < run.end) {
      const size_t take = static_cast<size_t>(std::min<uint64_t>(kMergeBufferBytes, run.end - run.offset));
      const size_t at = run.buf.size();
      run.buf.resize(at + take);
      RETURN_IF_ERROR(PReadAll(fd_, run.buf.data() + at, take, run.offset, kWhat));
      run.offset += take;
    }
    return run.buf.size() >= n;
  };
  ASSIGN_OR_RETURN(bool more, ensure(kEntryHeader));
  if (!more) {
    if (run.buf.size() != run.pos) return Status::Internal(std::string(kWhat) + ": a truncated entry");
    run.has_head = false;
    run.buf = {};
    return Status::Ok();
  }
  uint16_t len;
  std::memcpy(&run.head.key, run.buf.data() + run.pos, sizeof(int64_t));
  std::memcpy(&len, run.buf.data() + run.pos + sizeof(int64_t), sizeof(len));
  ASSIGN_OR_RETURN(more, ensure(kEntryHeader + len));
  if (!more) return Status::Internal(std::string(kWhat) + ": a truncated entry");
  run.head.id.assign(run.buf, run.pos + kEntryHeader, len);
  run.pos += kEntryHeader + len;
  run.has_head = true;
  return Status::Ok();
}

bool NewUsers::HeadAfter(size_t a, size_t b) const {
  const Entry& x = runs_[a].head;
  const Entry& y = runs_[b].head;
  return std::tie(y.key, y.id) < std::tie(x.key, x.id);
}

Status NewUsers::Finish() {
  if (runs_.empty()) {  // everything fits in one chunk
    sorted_ = TakeChunk();
    return Status::Ok();
  }
  if (!chunk_.empty()) RETURN_IF_ERROR(Spill());
  chunk_ = {};
  for (size_t i = 0; i < runs_.size(); ++i) {
    RETURN_IF_ERROR(Advance(runs_[i]));
    if (runs_[i].has_head) heap_.push_back(i);
  }
  std::make_heap(heap_.begin(), heap_.end(), [this](size_t a, size_t b) { return HeadAfter(a, b); });
  return Status::Ok();
}

StatusOr<bool> NewUsers::Next(int64_t* key, std::string* user_id) {
  auto greater = [this](size_t a, size_t b) { return HeadAfter(a, b); };
  while (true) {
    Entry e;
    if (runs_.empty()) {
      if (sorted_pos_ >= sorted_.size()) return false;
      e = std::move(sorted_[sorted_pos_++]);
    } else {
      if (heap_.empty()) return false;
      std::pop_heap(heap_.begin(), heap_.end(), greater);
      Run& run = runs_[heap_.back()];
      e = std::move(run.head);
      RETURN_IF_ERROR(Advance(run));
      if (run.has_head) {
        std::push_heap(heap_.begin(), heap_.end(), greater);
      } else {
        heap_.pop_back();
      }
    }
    if (have_last_ && e.key == last_.key) {
      if (e.id == last_.id) continue;  // the same user, spilled by more than one chunk
      return Status::Unavailable("two user ids of this upload share a hash key ('" + last_.id.substr(0, 64) +
                                 "' and '" + e.id.substr(0, 64) +
                                 "'; about one upload in a million at millions of new users): nothing was "
                                 "stored, send the file again");
    }
    last_ = e;
    have_last_ = true;
    *key = e.key;
    *user_id = std::move(e.id);
    return true;
  }
}

}  // namespace embedrec::ingest
