// The write-ahead file of a tenant's tracked events (embedded mode): each
// round of events the TrackCommitter writes into the open database
// transaction is appended here, with the ids and times it was given, in one
// `write` before the callers are answered; the database commits many rounds
// at once behind it. A process that dies before that commit loses nothing:
// the records after the last committed sequence number are written again
// when the tenant's store is opened. The file is emptied after each commit.
//
// Durability is that of the page cache, as SQLite's WAL with
// synchronous=NORMAL: a killed process loses nothing, a power loss may lose
// the last events.
//
// A record: magic "ERTJ", the body's size (u32), the body (the round's
// sequence number, then every event with its id and processing time), a
// 16-byte BLAKE2b of the body. A torn or damaged record ends the replay
// (it was never acknowledged: its `write` had not returned).
//
// Thread safety: one caller at a time (the TrackCommitter's writer lock).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "common/status.h"
#include "store/tenant_stores.h"

namespace embedrec::store {

struct TrackBatch;  // store/track_committer.h

// One round as read back: its events, each with `replay_interaction_id` and
// `replay_processed_at_ms` set to what the round gave it.
struct JournalRound {
  uint64_t seq = 0;
  std::vector<TrackEvent> events;
};

class TrackJournal {
 public:
  // Opens (creating, mode 0600) the file at `path` and reads the rounds it
  // holds, in order, up to the first torn or damaged one.
  static StatusOr<std::unique_ptr<TrackJournal>> Open(const std::string& path,
                                                      std::vector<JournalRound>* rounds);
  ~TrackJournal();
  TrackJournal(const TrackJournal&) = delete;
  TrackJournal& operator=(const TrackJournal&) = delete;

  // Appends round `seq`: every event of `batches` with its result's id and
  // processing time (events that stored nothing are written too: replaying
  // them decides the same again).
  Status Append(uint64_t seq, const std::vector<TrackBatch*>& batches);
  // Empties the file (every round in it is committed).
  Status Clear();
  // The whole rounds the file holds (to apply them again after a failed commit).
  StatusOr<std::vector<JournalRound>> ReadBack() const;

 private:
  TrackJournal(std::string path, int fd) : path_(std::move(path)), fd_(fd) {}
  std::string path_;
  int fd_;
  uint64_t size_ = 0;  // bytes of whole rounds in the file
};

// The encoding of one round (exposed for tests).
std::string EncodeJournalRound(uint64_t seq, const std::vector<TrackBatch*>& batches);

}  // namespace embedrec::store
