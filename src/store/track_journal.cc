#include "store/track_journal.h"

#include <fcntl.h>
#include <sodium.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "common/binary_io.h"
#include "common/file_util.h"
#include "store/track_committer.h"

namespace embedrec::store {
namespace {

constexpr char kMagic[4] = {'E', 'R', 'T', 'J'};
constexpr size_t kSumBytes = 16;
constexpr size_t kMaxString = 1 << 24;
constexpr uint32_t kMaxBody = 1u << 30;

void Sum(std::string_view body, unsigned char* out) {
  crypto_generichash(out, kSumBytes, reinterpret_cast<const unsigned char*>(body.data()), body.size(), nullptr, 0);
}

void PutOptional(std::string* out, const std::optional<double>& v) {
  PutBinary<uint8_t>(out, v ? 1 : 0);
  if (v) PutBinary<double>(out, *v);
}

bool GetOptional(BinaryReader& r, std::optional<double>* v) {
  uint8_t has;
  if (!r.Get(&has)) return false;
  if (!has) return true;
  double d;
  if (!r.Get(&d)) return false;
  *v = d;
  return true;
}

bool DecodeBody(std::string_view body, JournalRound* round) {
  BinaryReader r(body);
  uint32_t n;
  if (!r.Get(&round->seq) || !r.Get(&n)) return false;
  round->events.clear();
  for (uint32_t i = 0; i < n; ++i) {
    TrackEvent ev;
    uint8_t create;
    if (!r.GetString(&ev.user_id, kMaxString) || !r.GetString(&ev.item_id, kMaxString) ||
        !r.GetString(&ev.type, kMaxString) || !r.Get(&ev.ts_ms) || !GetOptional(r, &ev.rating) ||
        !GetOptional(r, &ev.value) || !GetOptional(r, &ev.quantity) ||
        !r.GetString(&ev.context_json, kMaxString) || !r.GetString(&ev.metadata_json, kMaxString) ||
        !r.GetString(&ev.recommendation_id, kMaxString) || !r.GetString(&ev.idempotency_key, kMaxString) ||
        !r.Get(&create) || !r.GetString(&ev.replay_interaction_id, kMaxString) ||
        !r.Get(&ev.replay_processed_at_ms)) {
      return false;
    }
    ev.create_missing_item = create != 0;
    round->events.push_back(std::move(ev));
  }
  return r.remaining() == 0;
}

// The whole rounds at the start of `bytes`; returns where they end.
size_t ParseRounds(std::string_view bytes, std::vector<JournalRound>* rounds) {
  size_t pos = 0;
  while (bytes.size() - pos >= sizeof(kMagic) + 4 + kSumBytes) {
    if (std::memcmp(bytes.data() + pos, kMagic, sizeof(kMagic)) != 0) break;
    uint32_t len;
    std::memcpy(&len, bytes.data() + pos + sizeof(kMagic), 4);
    const size_t start = pos + sizeof(kMagic) + 4;
    if (len > kMaxBody || bytes.size() - start < size_t{len} + kSumBytes) break;
    std::string_view body(bytes.data() + start, len);
    unsigned char sum[kSumBytes];
    Sum(body, sum);
    if (std::memcmp(sum, bytes.data() + start + len, kSumBytes) != 0) break;
    JournalRound round;
    if (!DecodeBody(body, &round)) break;
    rounds->push_back(std::move(round));
    pos = start + len + kSumBytes;
  }
  return pos;
}

Status OsError(const std::string& what, const std::string& path) {
  return Status::Internal(what + " " + path + ": " + std::strerror(errno));
}

}  // namespace

std::string EncodeJournalRound(uint64_t seq, const std::vector<TrackBatch*>& batches) {
  std::string body;
  uint32_t n = 0;
  for (const TrackBatch* b : batches) n += static_cast<uint32_t>(b->events.size());
  PutBinary<uint64_t>(&body, seq);
  PutBinary<uint32_t>(&body, n);
  for (const TrackBatch* b : batches) {
    for (size_t i = 0; i < b->events.size(); ++i) {
      const TrackEvent& ev = b->events[i];
      const TrackResult* res = i < b->results.size() ? &b->results[i] : nullptr;
      PutBinaryString(&body, ev.user_id);
      PutBinaryString(&body, ev.item_id);
      PutBinaryString(&body, ev.type);
      PutBinary<int64_t>(&body, ev.ts_ms);
      PutOptional(&body, ev.rating);
      PutOptional(&body, ev.value);
      PutOptional(&body, ev.quantity);
      PutBinaryString(&body, ev.context_json);
      PutBinaryString(&body, ev.metadata_json);
      PutBinaryString(&body, ev.recommendation_id);
      PutBinaryString(&body, ev.idempotency_key);
      PutBinary<uint8_t>(&body, ev.create_missing_item ? 1 : 0);
      PutBinaryString(&body, res ? std::string_view(res->interaction_id) : std::string_view());
      PutBinary<int64_t>(&body, res ? res->processed_at_ms : 0);
    }
  }
  std::string out;
  out.reserve(sizeof(kMagic) + 4 + body.size() + kSumBytes);
  out.append(kMagic, sizeof(kMagic));
  PutBinary<uint32_t>(&out, static_cast<uint32_t>(body.size()));
  out += body;
  unsigned char sum[kSumBytes];
  Sum(body, sum);
  out.append(reinterpret_cast<const char*>(sum), kSumBytes);
  return out;
}

StatusOr<std::unique_ptr<TrackJournal>> TrackJournal::Open(const std::string& path,
                                                           std::vector<JournalRound>* rounds) {
  rounds->clear();
  int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (fd < 0) return OsError("cannot open the tracking journal", path);
  std::unique_ptr<TrackJournal> j(new TrackJournal(path, fd));
  ASSIGN_OR_RETURN(std::string bytes, ReadWholeFile(path));
  const size_t pos = ParseRounds(bytes, rounds);
  // A torn tail was never acknowledged: it goes, so appends follow the last whole round.
  if (pos != bytes.size() && ::ftruncate(fd, static_cast<off_t>(pos)) != 0) {
    return OsError("cannot cut the tracking journal's torn tail", path);
  }
  j->size_ = pos;
  return j;
}

TrackJournal::~TrackJournal() { ::close(fd_); }

Status TrackJournal::Append(uint64_t seq, const std::vector<TrackBatch*>& batches) {
  const std::string record = EncodeJournalRound(seq, batches);
  Status s = PWriteAll(fd_, record.data(), record.size(), size_, "the tracking journal");
  if (!s.ok()) {
    // Nothing of a failed round may stay ahead of the next one.
    (void)!::ftruncate(fd_, static_cast<off_t>(size_));
    return s;
  }
  size_ += record.size();
  return Status::Ok();
}

StatusOr<std::vector<JournalRound>> TrackJournal::ReadBack() const {
  ASSIGN_OR_RETURN(std::string bytes, ReadWholeFile(path_));
  std::vector<JournalRound> rounds;
  ParseRounds(std::string_view(bytes).substr(0, size_), &rounds);
  return rounds;
}

Status TrackJournal::Clear() {
  if (size_ == 0) return Status::Ok();
  if (::ftruncate(fd_, 0) != 0) return OsError("cannot empty the tracking journal", path_);
  size_ = 0;
  return Status::Ok();
}

}  // namespace embedrec::store
