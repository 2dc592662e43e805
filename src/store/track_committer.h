// Group commit of a tenant's real-time tracking writes (TenantStore::Track
// and TrackAsync), whatever the backend: callers queue their events and
// return; a committer thread of the tenant's own writes all that is queued
// with one call of the backend's `write` (one transaction), answers those
// callers, and takes what has queued meanwhile; it exits after a second
// without work. Answers of TrackAsync go to the stores' CallbackRunner, so
// the committer thread runs no API or serving code.
//
// Thread safety: safe for concurrent use.
#pragma once

#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "store/tenant_stores.h"

namespace embedrec::store {

// One caller's events and, once written, their results (one each, in order).
struct TrackBatch {
  std::vector<TrackEvent> events;
  std::vector<TrackResult> results;
};

// Writes every batch in one transaction, filling each one's results; an
// error fails them all (nothing of them is stored).
using WriteTrackBatches = std::function<Status(const std::vector<TrackBatch*>& batches)>;

class TrackCommitter {
 public:
  // `run_callback` (which may hold a null function) outlives the committer.
  TrackCommitter(std::string tenant_id, WriteTrackBatches write, const CallbackRunner* run_callback);
  // Answers what is queued, then stops the committer.
  ~TrackCommitter();

  // Blocks until the commit that holds the events (answered on the committer
  // thread itself: a caller waiting on a pool must not wait for that pool).
  StatusOr<std::vector<TrackResult>> Track(const std::vector<TrackEvent>& events);
  void TrackAsync(std::vector<TrackEvent> events, TenantStore::TrackCallback done);

 private:
  struct Job {
    TrackBatch batch;
    TenantStore::TrackCallback done;
    bool hand_back = true;  // to run_callback_, when there is one
  };
  void Enqueue(std::vector<TrackEvent> events, TenantStore::TrackCallback done, bool hand_back);
  void CommitLoop();

  const std::string tenant_id_;
  const WriteTrackBatches write_;
  const CallbackRunner* run_callback_;
  std::mutex mu_;
  std::vector<std::shared_ptr<Job>> queue_;  // GUARDED_BY(mu_)
  std::condition_variable cv_;
  bool stop_ = false;                        // GUARDED_BY(mu_)
  bool running_ = false;                     // GUARDED_BY(mu_): the committer has not returned
  std::thread committer_;
};

// The payload of a tracked interaction's "user-interactions" event, as every
// backend writes it: the ids a consumer reads (interaction, user, item, type,
// time, the context as JSON text when there is one), the tenant's row
// numbers, and in the scale-out mode the node that took it ("node": the
// other nodes apply it to their real-time state, that one already has).
std::string TrackedEventPayload(const std::string& interaction_id, const TrackEvent& ev, int64_t user_idx,
                                int64_t item_idx, const std::string& node = "");

}  // namespace embedrec::store
