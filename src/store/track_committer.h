// Group commit of a tenant's real-time tracking writes (TenantStore::Track
// and TrackAsync), whatever the backend: callers queue their events and
// return; a committer thread of the tenant's own writes all that is queued
// with one call of the backend's `write` (one transaction), answers those
// callers, and takes what has queued meanwhile; it exits after a second
// without work. Answers of TrackAsync go to the stores' CallbackRunner, so
// the committer thread runs no API or serving code, unless the caller asked
// for its answer on the writing thread (TrackDoneOn::kWriter: an answer that
// only posts itself to where it runs).
//
// Journaled (the embedded mode, see store/track_journal.h): the committer
// keeps one database transaction open across rounds; each round is written
// into it and appended to the tenant's journal file, then answered. A caller
// that finds the transaction open and the writer lock free writes its own
// round on its own thread (no hand-off, answered there); a TrackAsync caller
// that finds the lock taken leaves its events to the thread holding it,
// which writes them in its next round and answers them (the committer is
// woken only when no transaction is open). The transaction commits
// `commit_every_ms` after it opened, after `commit_every_events`, or
// at once when someone needs the database (Flush: the store calls it before
// every other use of the database, so every reader sees what was
// acknowledged). A killed process loses no acknowledged event: the journal's
// rounds after the last committed one are applied again by Start.
//
// Thread safety: safe for concurrent use.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "store/tenant_stores.h"
#include "store/track_journal.h"

namespace embedrec::store {

// One caller's events and, once written, their results (one each, in order).
struct TrackBatch {
  std::vector<TrackEvent> events;
  std::vector<TrackResult> results;
};

// Writes every batch in one transaction, filling each one's results; an
// error fails them all (nothing of them is stored).
using WriteTrackBatches = std::function<Status(const std::vector<TrackBatch*>& batches)>;

// A backend's transaction kept open across rounds (journaled mode). Used by
// the committer thread only.
class TrackTransaction {
 public:
  virtual ~TrackTransaction() = default;
  // The last round recorded as applied by a commit (0 when none).
  virtual StatusOr<uint64_t> AppliedSeq() = 0;
  // Writes a round into the open transaction (beginning one when none is
  // open), filling the batches' results; on error nothing of the round stays.
  // The round stays undoable until EndRound.
  virtual Status Write(const std::vector<TrackBatch*>& batches) = 0;
  // Keeps or undoes the round last written.
  virtual void EndRound(bool keep) = 0;
  // Commits, recording `seq` as the last round applied; on failure the whole
  // transaction is rolled back.
  virtual Status Commit(uint64_t seq) = 0;
  // Drops the open transaction, if any.
  virtual void Rollback() = 0;
  // Whether a transaction is open (a round may be written without beginning one).
  virtual bool open() const = 0;
};

class TrackCommitter {
 public:
  // `run_callback` (which may hold a null function) outlives the committer.
  TrackCommitter(std::string tenant_id, WriteTrackBatches write, const CallbackRunner* run_callback);
  struct JournalOptions {
    std::string path;              // the journal file
    int commit_every_ms = 20;      // the open transaction's longest life
    int commit_every_events = 4096;
  };
  // Journaled mode: Start must succeed before the first event.
  TrackCommitter(std::string tenant_id, std::unique_ptr<TrackTransaction> tx, JournalOptions journal,
                 const CallbackRunner* run_callback);
  // Answers what is queued (and commits), then stops the committer.
  ~TrackCommitter();

  // Journaled mode: opens the journal and applies (and commits) its rounds
  // the database has not committed. A no-op otherwise.
  Status Start();
  // Journaled mode: returns once every event answered so far is committed
  // (or a commit failed). Cheap when nothing is waiting.
  void Flush();

  // Blocks until the events are durable: committed, or (journaled) in the
  // journal. Answered on the caller's thread when it could write at once, else
  // on the committer thread (never handed to the CallbackRunner: a caller
  // waiting on a pool must not wait for that pool).
  StatusOr<std::vector<TrackResult>> Track(const std::vector<TrackEvent>& events);
  void TrackAsync(std::vector<TrackEvent> events, TenantStore::TrackCallback done, TenantStore::TrackDoneOn on);

 private:
  struct Job {
    TrackBatch batch;
    TenantStore::TrackCallback done;
    bool hand_back = true;  // to run_callback_, when there is one
  };
  void Enqueue(std::vector<TrackEvent> events, TenantStore::TrackCallback done, bool hand_back);
  void RunCommitterLocked();  // starts the committer thread unless it runs; mu_ held
  void CommitLoop();
  void JournaledLoop();
  // Journaled mode.
  bool TryWriteNow(std::vector<TrackEvent>& events, TenantStore::TrackCallback& done);
  // TrackAsync's events wait in `pending_` for whichever thread holds the
  // writer lock next; this takes the lock if it is free and writes them all
  // in one round, again until none is left (a thread that finds the lock
  // taken leaves its events to the holder, which looks once more after it
  // unlocks), at most a few rounds before it wakes the committer for the
  // rest. Answered on this thread. What cannot be written at once (no
  // transaction open, a commit to apply again) goes to the committer's queue.
  void WritePending();
  struct Pending {
    std::vector<TrackEvent> events;
    TenantStore::TrackCallback done;
    bool hand_back = true;  // TrackDoneOn::kCallbackRunner
  };
  std::vector<Pending> TakeAllPending();  // empties pending_
  // Moves what is pending into `jobs`, answered as their callers asked (the committer's).
  void TakePending(std::vector<std::shared_ptr<Job>>& jobs);
  Status WriteRoundLocked(const std::vector<TrackBatch*>& batches);  // write, journal
  void RunRound(std::vector<std::shared_ptr<Job>>& jobs);             // the committer's: write, journal, answer
  void CommitOpen();
  // Writes and commits the rounds past `applied`; the last one committed, or 0.
  StatusOr<uint64_t> ReapplyLocked(const std::vector<JournalRound>& rounds, uint64_t applied);
  StatusOr<uint64_t> ReapplyJournalLocked();  // after a failed commit: the journal's rounds
  void Committed(uint64_t seq);  // after a commit (seq 0: it failed); wakes Flush
  void Answer(std::vector<std::shared_ptr<Job>>& jobs, const Status& s);

  const std::string tenant_id_;
  const WriteTrackBatches write_;
  const CallbackRunner* run_callback_;
  std::mutex mu_;
  std::vector<std::shared_ptr<Job>> queue_;  // GUARDED_BY(mu_)
  std::condition_variable cv_;
  bool stop_ = false;                        // GUARDED_BY(mu_)
  bool running_ = false;                     // GUARDED_BY(mu_): the committer has not returned
  std::thread committer_;

  // Journaled mode. The writer lock orders rounds and commits; a caller
  // that finds it free and a transaction open writes its round at once, on
  // its own thread (no hand-off), else the round goes to the queue.
  std::mutex write_mu_;
  std::unique_ptr<TrackTransaction> tx_;   // set once; its use GUARDED_BY(write_mu_)
  JournalOptions journal_options_;
  std::unique_ptr<TrackJournal> journal_;  // GUARDED_BY(write_mu_)
  uint64_t next_seq_ = 1;                  // GUARDED_BY(write_mu_)
  std::atomic<bool> reapply_{false};       // written under write_mu_: a commit failed, the journal is ahead
  std::atomic<uint64_t> uncommitted_events_{0};  // written under write_mu_
  std::atomic<int64_t> open_since_ns_{0};        // steady clock; written under write_mu_
  std::atomic<uint64_t> acked_seq_{0};     // the last round answered
  std::mutex pending_mu_;
  std::vector<Pending> pending_;           // GUARDED_BY(pending_mu_)
  std::atomic<size_t> pending_count_{0};   // written under pending_mu_
  std::atomic<uint64_t> committed_seq_{0}; // written under mu_
  uint64_t commit_attempts_ = 0;           // GUARDED_BY(mu_)
  bool flush_wanted_ = false;              // GUARDED_BY(mu_)
  std::condition_variable committed_cv_;
};

// The payload of a tracked interaction's "user-interactions" event, as every
// backend writes it: the ids a consumer reads (interaction, user, item, type,
// time, the context as JSON text when there is one), the tenant's row
// numbers, and in the scale-out mode the node that took it ("node": the
// other nodes apply it to their real-time state, that one already has).
std::string TrackedEventPayload(const std::string& interaction_id, const TrackEvent& ev, int64_t user_idx,
                                int64_t item_idx, const std::string& node = "");

}  // namespace embedrec::store
