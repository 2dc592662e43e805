#include "store/track_committer.h"

#include "common/json_text.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <future>
#include <optional>

namespace embedrec::store {
namespace {

// The rounds one caller writes for others before it leaves the rest to the committer.
constexpr int kMaxPendingRounds = 4;

// The committer whose thread this is (Flush on it must not wait for itself).
thread_local const TrackCommitter* tls_committer = nullptr;

}  // namespace

TrackCommitter::TrackCommitter(std::string tenant_id, WriteTrackBatches write, const CallbackRunner* run_callback)
    : tenant_id_(std::move(tenant_id)), write_(std::move(write)), run_callback_(run_callback) {}

TrackCommitter::TrackCommitter(std::string tenant_id, std::unique_ptr<TrackTransaction> tx, JournalOptions journal,
                               const CallbackRunner* run_callback)
    : tenant_id_(std::move(tenant_id)), run_callback_(run_callback), tx_(std::move(tx)),
      journal_options_(std::move(journal)) {}

TrackCommitter::~TrackCommitter() {
  {
    std::lock_guard lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  if (committer_.joinable()) committer_.join();
  // Nothing is left pending by a holder that looked again after unlocking;
  // should anything be, its callers are told rather than left waiting.
  for (auto& t : TakeAllPending()) t.done(Status::Unavailable("tracking stopped before the event was written"));
}

StatusOr<std::vector<TrackResult>> TrackCommitter::Track(const std::vector<TrackEvent>& events) {
  std::vector<TrackEvent> own = events;  // one copy: written now, or queued (TryWriteNow leaves it on refusal)
  if (tx_) {
    std::optional<StatusOr<std::vector<TrackResult>>> out;
    TenantStore::TrackCallback put = [&out](StatusOr<std::vector<TrackResult>> r) { out.emplace(std::move(r)); };
    if (TryWriteNow(own, put)) return std::move(*out);
  }
  std::promise<StatusOr<std::vector<TrackResult>>> answer;
  auto future = answer.get_future();
  Enqueue(std::move(own), [&answer](StatusOr<std::vector<TrackResult>> r) { answer.set_value(std::move(r)); },
          /*hand_back=*/false);
  return future.get();
}

void TrackCommitter::TrackAsync(std::vector<TrackEvent> events, TenantStore::TrackCallback done,
                                TenantStore::TrackDoneOn on) {
  const bool hand_back = on == TenantStore::TrackDoneOn::kCallbackRunner;
  if (!tx_) return Enqueue(std::move(events), std::move(done), hand_back);
  {
    std::lock_guard p(pending_mu_);
    pending_.push_back({std::move(events), std::move(done), hand_back});
    pending_count_.store(pending_.size());
  }
  WritePending();
}

void TrackCommitter::Enqueue(std::vector<TrackEvent> events, TenantStore::TrackCallback done, bool hand_back) {
  auto job = std::make_shared<Job>();
  job->batch.events = std::move(events);
  job->done = std::move(done);
  job->hand_back = hand_back;
  {
    std::lock_guard lock(mu_);
    queue_.push_back(std::move(job));
    RunCommitterLocked();
  }
  cv_.notify_one();
}

void TrackCommitter::RunCommitterLocked() {
  if (running_) return;
  if (committer_.joinable()) committer_.join();  // it has returned already
  running_ = true;
  committer_ = std::thread([this] {
    if (tx_) JournaledLoop();
    else CommitLoop();
  });
}

void TrackCommitter::CommitLoop() {
  std::vector<std::shared_ptr<Job>> jobs;
  std::vector<TrackBatch*> batches;
  std::unique_lock lock(mu_);
  while (true) {
    if (!cv_.wait_for(lock, std::chrono::seconds(1), [&] { return !queue_.empty() || stop_; }) ||
        queue_.empty()) {
      running_ = false;  // idle or stopping
      return;
    }
    jobs.swap(queue_);
    lock.unlock();
    batches.clear();
    for (auto& j : jobs) {
      j->batch.results.clear();
      batches.push_back(&j->batch);
    }
    Answer(jobs, write_(batches));
    jobs.clear();
    lock.lock();
  }
}

void TrackCommitter::Answer(std::vector<std::shared_ptr<Job>>& jobs, const Status& s) {
  for (auto& j : jobs) {
    auto answer = [j, s, id = tenant_id_]() mutable {
      try {
        if (s.ok()) j->done(std::move(j->batch.results));
        else j->done(s);
      } catch (const std::exception& e) {
        spdlog::error("tenant {}: track callback failed: {}", id, e.what());
      }
    };
    // Handed back: this thread only writes (no API or serving code on it).
    if (j->hand_back && *run_callback_) (*run_callback_)(tenant_id_, std::move(answer));
    else answer();
  }
}

// --- Journaled mode ---

namespace {
int64_t SteadyNanos() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now().time_since_epoch())
      .count();
}
}  // namespace

Status TrackCommitter::Start() {
  if (!tx_) return Status::Ok();
  uint64_t last = 0;
  {
    std::lock_guard w(write_mu_);
    std::vector<JournalRound> rounds;
    ASSIGN_OR_RETURN(journal_, TrackJournal::Open(journal_options_.path, &rounds));
    ASSIGN_OR_RETURN(uint64_t applied, tx_->AppliedSeq());
    next_seq_ = applied + 1;
    size_t behind = 0;
    for (const auto& r : rounds) {
      next_seq_ = std::max(next_seq_, r.seq + 1);
      behind += r.seq > applied ? r.events.size() : 0;
    }
    if (behind > 0) spdlog::info("tenant {}: applying {} tracked events from the journal", tenant_id_, behind);
    ASSIGN_OR_RETURN(last, ReapplyLocked(rounds, applied));
  }
  if (last > 0) Committed(last);
  return Status::Ok();
}

StatusOr<uint64_t> TrackCommitter::ReapplyJournalLocked() {
  ASSIGN_OR_RETURN(auto rounds, journal_->ReadBack());
  ASSIGN_OR_RETURN(uint64_t applied, tx_->AppliedSeq());
  return ReapplyLocked(rounds, applied);
}

StatusOr<uint64_t> TrackCommitter::ReapplyLocked(const std::vector<JournalRound>& rounds, uint64_t applied) {
  uint64_t last = 0;
  for (const auto& r : rounds) {
    if (r.seq <= applied) continue;
    TrackBatch batch;
    batch.events = r.events;
    const std::vector<TrackBatch*> one = {&batch};
    Status s = tx_->Write(one);
    tx_->EndRound(s.ok());
    if (!s.ok()) {
      tx_->Rollback();
      return s;
    }
    last = r.seq;
  }
  if (last > 0) RETURN_IF_ERROR(tx_->Commit(last));
  RETURN_IF_ERROR(journal_->Clear());
  reapply_ = false;
  return last;
}

Status TrackCommitter::WriteRoundLocked(const std::vector<TrackBatch*>& batches) {
  uint64_t events = 0;
  for (TrackBatch* b : batches) {
    b->results.clear();
    events += b->events.size();
  }
  const uint64_t seq = next_seq_;
  Status s = tx_->Write(batches);
  if (s.ok()) s = journal_->Append(seq, batches);
  tx_->EndRound(s.ok());
  if (!s.ok()) return s;
  if (uncommitted_events_.load() == 0) open_since_ns_.store(SteadyNanos());
  uncommitted_events_.fetch_add(std::max<uint64_t>(events, 1));
  ++next_seq_;
  acked_seq_.store(seq, std::memory_order_release);  // before the answers: their readers flush
  return Status::Ok();
}

bool TrackCommitter::TryWriteNow(std::vector<TrackEvent>& events, TenantStore::TrackCallback& done) {
  std::unique_lock w(write_mu_, std::try_to_lock);
  // Only into a transaction the committer opened: beginning one may wait for
  // another writer (an upload), and the caller may be a network thread.
  if (!w.owns_lock() || reapply_ || !tx_->open()) return false;
  TrackBatch batch;
  batch.events = std::move(events);
  Status s = WriteRoundLocked({&batch});
  const bool full = uncommitted_events_.load() >= static_cast<uint64_t>(journal_options_.commit_every_events);
  w.unlock();
  if (full) cv_.notify_one();
  if (s.ok()) done(std::move(batch.results));
  else done(s);
  WritePending();  // what others left while this held the lock
  return true;
}

void TrackCommitter::WritePending() {
  // Who pushes then tries the lock, and who unlocks then looks at the count,
  // cannot both miss: at least one of them writes what is pending.
  std::atomic_thread_fence(std::memory_order_seq_cst);
  for (int rounds = 0; pending_count_.load() > 0; ++rounds) {
    if (rounds == kMaxPendingRounds) {
      // Others keep adding: this thread has its own connections to serve.
      // The committer takes the rest.
      {
        std::lock_guard lock(mu_);
        RunCommitterLocked();
      }
      cv_.notify_one();
      return;
    }
    std::unique_lock w(write_mu_, std::try_to_lock);
    if (!w.owns_lock()) return;  // its holder writes what is pending once it has unlocked
    std::vector<Pending> take = TakeAllPending();
    if (take.empty()) return;
    // Only into a transaction the committer opened: beginning one may wait for
    // another writer (an upload), and this may be a network thread.
    if (reapply_ || !tx_->open()) {
      w.unlock();
      for (auto& t : take) Enqueue(std::move(t.events), std::move(t.done), t.hand_back);
      return;
    }
    std::vector<TrackBatch> batches(take.size());
    std::vector<TrackBatch*> round;
    round.reserve(take.size());
    for (size_t i = 0; i < take.size(); ++i) {
      batches[i].events = std::move(take[i].events);
      round.push_back(&batches[i]);
    }
    Status s = WriteRoundLocked(round);
    const bool full = uncommitted_events_.load() >= static_cast<uint64_t>(journal_options_.commit_every_events);
    w.unlock();
    std::atomic_thread_fence(std::memory_order_seq_cst);
    if (full) cv_.notify_one();
    for (size_t i = 0; i < take.size(); ++i) {
      try {
        if (s.ok()) take[i].done(std::move(batches[i].results));
        else take[i].done(s);
      } catch (const std::exception& e) {
        spdlog::error("tenant {}: track callback failed: {}", tenant_id_, e.what());
      }
    }
  }
}

std::vector<TrackCommitter::Pending> TrackCommitter::TakeAllPending() {
  std::vector<Pending> take;
  std::lock_guard p(pending_mu_);
  take.swap(pending_);
  pending_count_.store(0);
  return take;
}

void TrackCommitter::TakePending(std::vector<std::shared_ptr<Job>>& jobs) {
  if (pending_count_.load() == 0) return;
  for (auto& t : TakeAllPending()) {
    auto job = std::make_shared<Job>();
    job->batch.events = std::move(t.events);
    job->done = std::move(t.done);
    job->hand_back = t.hand_back;
    jobs.push_back(std::move(job));
  }
}

void TrackCommitter::RunRound(std::vector<std::shared_ptr<Job>>& jobs) {
  std::vector<TrackBatch*> batches;
  for (auto& j : jobs) batches.push_back(&j->batch);
  Status s;
  uint64_t reapplied = 0;
  {
    std::lock_guard w(write_mu_);
    if (reapply_) {
      // A commit failed: the rounds since the one before are only in the journal.
      auto last = ReapplyJournalLocked();
      if (last.ok()) reapplied = *last;
      else s = last.status();
    }
    if (s.ok()) s = WriteRoundLocked(batches);
  }
  if (reapplied > 0) Committed(reapplied);
  if (!s.ok()) spdlog::error("tenant {}: tracked events not written: {}", tenant_id_, s.ToString());
  Answer(jobs, s);
}

void TrackCommitter::CommitOpen() {
  uint64_t seq = 0;
  {
    std::lock_guard w(write_mu_);
    if (uncommitted_events_.load() == 0) {
      if (!reapply_) return;
      auto last = ReapplyJournalLocked();
      if (!last.ok()) {
        spdlog::error("tenant {}: tracked events cannot be applied again: {}", tenant_id_, last.status().ToString());
        open_since_ns_.store(SteadyNanos());  // retried after a window
      } else {
        seq = *last;
      }
    } else {
      seq = next_seq_ - 1;
      Status s = tx_->Commit(seq);
      if (s.ok()) {
        Status c = journal_->Clear();  // if it fails, the next start skips the committed rounds
        if (!c.ok()) spdlog::warn("tenant {}: {}", tenant_id_, c.ToString());
      } else {
        spdlog::error("tenant {}: tracked events' commit failed (applied again from the journal): {}", tenant_id_,
                      s.ToString());
        reapply_ = true;
        open_since_ns_.store(SteadyNanos());
        seq = 0;
      }
      uncommitted_events_.store(0);
    }
  }
  Committed(seq);
}

void TrackCommitter::Committed(uint64_t seq) {
  {
    std::lock_guard lock(mu_);
    if (seq > committed_seq_.load()) committed_seq_.store(seq);
    if (acked_seq_.load() < seq) acked_seq_.store(seq);
    ++commit_attempts_;
    flush_wanted_ = false;
  }
  committed_cv_.notify_all();
}

void TrackCommitter::Flush() {
  if (!tx_) return;
  const uint64_t target = acked_seq_.load(std::memory_order_acquire);
  if (committed_seq_.load(std::memory_order_acquire) >= target) return;
  if (tls_committer == this) {  // an answer run on the committer thread reads the database
    CommitOpen();
    return;
  }
  std::unique_lock lock(mu_);
  if (committed_seq_.load() >= target || !running_) return;
  const uint64_t attempts = commit_attempts_;
  flush_wanted_ = true;
  cv_.notify_one();
  committed_cv_.wait(lock, [&] {
    return committed_seq_.load() >= target || commit_attempts_ != attempts || !running_;
  });
}

void TrackCommitter::JournaledLoop() {
  tls_committer = this;
  const int64_t window_ns = int64_t{journal_options_.commit_every_ms} * 1000000;
  const uint64_t max_events = static_cast<uint64_t>(journal_options_.commit_every_events);
  std::vector<std::shared_ptr<Job>> jobs;
  std::unique_lock lock(mu_);
  while (true) {
    const bool open = uncommitted_events_.load() > 0 || reapply_.load();
    // Pending events are left behind only when this thread held the writer
    // lock: they are taken here, after its round or commit.
    auto ready = [&] {
      return !queue_.empty() || pending_count_.load() > 0 || stop_ || (open && flush_wanted_) ||
             uncommitted_events_.load() >= max_events;
    };
    if (open) {
      const auto deadline = std::chrono::steady_clock::time_point(
          std::chrono::nanoseconds(open_since_ns_.load() + window_ns));
      cv_.wait_until(lock, deadline, ready);
    } else if (!cv_.wait_for(lock, std::chrono::seconds(1), ready) ||
               (queue_.empty() && pending_count_.load() == 0)) {
      running_ = false;  // idle or stopping, nothing uncommitted
      committed_cv_.notify_all();
      return;
    }
    if (!queue_.empty() || pending_count_.load() > 0) {
      jobs.swap(queue_);
      lock.unlock();
      TakePending(jobs);
      RunRound(jobs);
      jobs.clear();
      lock.lock();
    }
    const bool due = flush_wanted_ || stop_ || SteadyNanos() >= open_since_ns_.load() + window_ns ||
                     uncommitted_events_.load() >= max_events;
    if (due && (uncommitted_events_.load() > 0 || reapply_.load())) {
      const bool stopping = stop_;
      lock.unlock();
      CommitOpen();
      if (stopping && reapply_.load()) {
        // Stopping with a commit that keeps failing: the journal keeps the
        // rounds for the next start.
        std::lock_guard w(write_mu_);
        reapply_ = false;
      }
      lock.lock();
    }
  }
}

std::string TrackedEventPayload(const std::string& interaction_id, const TrackEvent& ev, int64_t user_idx,
                                int64_t item_idx, const std::string& node) {
  std::string payload = "{\"interaction_id\":";
  AppendJsonString(interaction_id, &payload);
  payload += ",\"user_id\":";
  AppendJsonString(ev.user_id, &payload);
  payload += ",\"item_id\":";
  AppendJsonString(ev.item_id, &payload);
  payload += ",\"user_idx\":" + std::to_string(user_idx) + ",\"item_idx\":" + std::to_string(item_idx) + ",\"type\":";
  AppendJsonString(ev.type, &payload);
  payload += ",\"ts_ms\":" + std::to_string(ev.ts_ms);
  if (!ev.context_json.empty()) {
    payload += ",\"context\":";
    AppendJsonString(ev.context_json, &payload);
  }
  if (!node.empty()) {
    payload += ",\"node\":";
    AppendJsonString(node, &payload);
  }
  return payload + "}";
}

}  // namespace embedrec::store
