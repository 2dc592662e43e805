#include "store/track_committer.h"

#include "common/json_text.h"

#include <spdlog/spdlog.h>

#include <chrono>
#include <future>

namespace embedrec::store {

TrackCommitter::TrackCommitter(std::string tenant_id, WriteTrackBatches write, const CallbackRunner* run_callback)
    : tenant_id_(std::move(tenant_id)), write_(std::move(write)), run_callback_(run_callback) {}

TrackCommitter::~TrackCommitter() {
  {
    std::lock_guard lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  if (committer_.joinable()) committer_.join();
}

StatusOr<std::vector<TrackResult>> TrackCommitter::Track(const std::vector<TrackEvent>& events) {
  std::promise<StatusOr<std::vector<TrackResult>>> answer;
  auto future = answer.get_future();
  Enqueue(events, [&answer](StatusOr<std::vector<TrackResult>> r) { answer.set_value(std::move(r)); },
          /*hand_back=*/false);
  return future.get();
}

void TrackCommitter::TrackAsync(std::vector<TrackEvent> events, TenantStore::TrackCallback done) {
  Enqueue(std::move(events), std::move(done), /*hand_back=*/true);
}

void TrackCommitter::Enqueue(std::vector<TrackEvent> events, TenantStore::TrackCallback done, bool hand_back) {
  auto job = std::make_shared<Job>();
  job->batch.events = std::move(events);
  job->done = std::move(done);
  job->hand_back = hand_back;
  {
    std::lock_guard lock(mu_);
    queue_.push_back(std::move(job));
    if (!running_) {
      if (committer_.joinable()) committer_.join();  // it has returned already
      running_ = true;
      committer_ = std::thread([this] { CommitLoop(); });
    }
  }
  cv_.notify_one();
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
    Status s = write_(batches);
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
    jobs.clear();
    lock.lock();
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
