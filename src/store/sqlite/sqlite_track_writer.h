// A tenant's real-time tracking writes (TenantStore::Track/TrackAsync) in
// its SQLite database: group commit on a committer thread of the tenant's
// own. Callers queue their events and return; the committer writes all that
// is queued in one transaction, answers those callers, and takes what has
// queued meanwhile; it exits after a second without work. Answers of
// TrackAsync go to the stores' CallbackRunner, so the committer thread runs
// no API or serving code.
//
// Thread safety: safe for concurrent use.
#pragma once

#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "common/clock.h"
#include "store/sqlite/sqlite_db.h"
#include "store/tenant_stores.h"

namespace embedrec::store {

class SqliteTrackWriter {
 public:
  // `db`, `clock` and `run_callback` (which may hold a null function)
  // outlive the writer.
  SqliteTrackWriter(std::string tenant_id, SqliteDb* db, const Clock* clock, const CallbackRunner* run_callback);
  // Answers what is queued, then stops the committer.
  ~SqliteTrackWriter();

  // Blocks until the commit that holds the events (answered on the committer
  // thread itself: a caller waiting on a pool must not wait for that pool).
  StatusOr<std::vector<TrackResult>> Track(const std::vector<TrackEvent>& events);
  void TrackAsync(std::vector<TrackEvent> events, TenantStore::TrackCallback done);

 private:
  struct Job {
    std::vector<TrackEvent> events;
    std::vector<TrackResult> results;
    TenantStore::TrackCallback done;
    bool hand_back = true;  // to run_callback_, when there is one
  };
  void Enqueue(std::vector<TrackEvent> events, TenantStore::TrackCallback done, bool hand_back);
  void CommitLoop();
  Status WriteJobs(const std::vector<std::shared_ptr<Job>>& jobs);
  StatusOr<TrackResult> WriteOne(SqliteConn& c, const TrackEvent& ev);

  const std::string tenant_id_;
  SqliteDb* db_;
  const Clock* clock_;
  const CallbackRunner* run_callback_;
  std::mutex mu_;
  std::vector<std::shared_ptr<Job>> queue_;  // GUARDED_BY(mu_)
  std::condition_variable cv_;
  bool stop_ = false;                        // GUARDED_BY(mu_)
  bool running_ = false;                     // GUARDED_BY(mu_): the committer has not returned
  std::thread committer_;
};

}  // namespace embedrec::store
