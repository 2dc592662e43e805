#include "store/sqlite/sqlite_track_writer.h"

#include <chrono>
#include <future>
#include <optional>

#include <spdlog/spdlog.h>

#include "common/json_text.h"
#include "common/random.h"
#include "store/sqlite/sqlite_tenant_schema.h"

namespace embedrec::store {

namespace {

StatusOr<std::optional<int64_t>> Lookup(SqliteConn& c, const char* sql, const std::string& key) {
  ASSIGN_OR_RETURN(auto st, c.Prepare(sql));
  st->Bind(1, key);
  ASSIGN_OR_RETURN(bool row, st->Step());
  if (!row) return std::optional<int64_t>();
  return std::optional<int64_t>(st->Int(0));
}

}  // namespace

SqliteTrackWriter::SqliteTrackWriter(std::string tenant_id, SqliteDb* db, const Clock* clock,
                                     const CallbackRunner* run_callback)
    : tenant_id_(std::move(tenant_id)), db_(db), clock_(clock), run_callback_(run_callback) {}

SqliteTrackWriter::~SqliteTrackWriter() {
  {
    std::lock_guard lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  if (committer_.joinable()) committer_.join();
}

StatusOr<std::vector<TrackResult>> SqliteTrackWriter::Track(const std::vector<TrackEvent>& events) {
  std::promise<StatusOr<std::vector<TrackResult>>> answer;
  auto future = answer.get_future();
  Enqueue(events, [&answer](StatusOr<std::vector<TrackResult>> r) { answer.set_value(std::move(r)); },
          /*hand_back=*/false);
  return future.get();
}

void SqliteTrackWriter::TrackAsync(std::vector<TrackEvent> events, TenantStore::TrackCallback done) {
  Enqueue(std::move(events), std::move(done), /*hand_back=*/true);
}

void SqliteTrackWriter::Enqueue(std::vector<TrackEvent> events, TenantStore::TrackCallback done, bool hand_back) {
  auto job = std::make_shared<Job>();
  job->events = std::move(events);
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

void SqliteTrackWriter::CommitLoop() {
  std::vector<std::shared_ptr<Job>> jobs;
  std::unique_lock lock(mu_);
  while (true) {
    if (!cv_.wait_for(lock, std::chrono::seconds(1), [&] { return !queue_.empty() || stop_; }) ||
        queue_.empty()) {
      running_ = false;  // idle or stopping
      return;
    }
    jobs.swap(queue_);
    lock.unlock();
    Status s = WriteJobs(jobs);
    for (auto& j : jobs) {
      auto answer = [j, s, id = tenant_id_]() mutable {
        try {
          if (s.ok()) j->done(std::move(j->results));
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

Status SqliteTrackWriter::WriteJobs(const std::vector<std::shared_ptr<Job>>& jobs) {
  return db_->Write([&](SqliteConn& c) -> Status {
    for (auto& job : jobs) {
      job->results.clear();
      for (const auto& ev : job->events) {
        ASSIGN_OR_RETURN(TrackResult r, WriteOne(c, ev));
        job->results.push_back(std::move(r));
      }
    }
    return Status::Ok();
  });
}

StatusOr<TrackResult> SqliteTrackWriter::WriteOne(SqliteConn& c, const TrackEvent& ev) {
  TrackResult r;
  r.processed_at_ms = clock_->NowMillis();
  if (!ev.idempotency_key.empty()) {
    ASSIGN_OR_RETURN(auto st, c.Prepare("SELECT interaction_id FROM idempotency_keys WHERE key=?"));
    st->Bind(1, ev.idempotency_key);
    ASSIGN_OR_RETURN(bool row, st->Step());
    if (row) {
      r.interaction_id = st->Text(0);
      r.replayed = true;
      return r;
    }
  }
  std::optional<int64_t> item_idx;
  if (!ev.item_id.empty()) {
    ASSIGN_OR_RETURN(item_idx, Lookup(c, "SELECT item_idx FROM items WHERE item_id=? AND deleted=0",
                                      ev.item_id));
    if (!item_idx) {
      if (!ev.create_missing_item) {
        r.status = Status::NotFound("item '" + ev.item_id +
                                    "' is not in the catalog; upload it first or enable "
                                    "settings.auto_create_items")
                       .WithReason("unknown_item");
        return r;
      }
      ASSIGN_OR_RETURN(auto ins, c.Prepare(
          "INSERT INTO items (item_id, created_at_ms, updated_at_ms) VALUES (?,?,?) "
          "ON CONFLICT(item_id) DO UPDATE SET deleted=0, updated_at_ms=excluded.updated_at_ms"));
      ins->Bind(1, ev.item_id).Bind(2, r.processed_at_ms).Bind(3, r.processed_at_ms);
      RETURN_IF_ERROR(ins->Run());
      ins.reset();
      ASSIGN_OR_RETURN(item_idx, Lookup(c, "SELECT item_idx FROM items WHERE item_id=?", ev.item_id));
    }
  }
  ASSIGN_OR_RETURN(auto user_idx, Lookup(c, "SELECT user_idx FROM users WHERE user_id=?", ev.user_id));
  if (!user_idx) {
    ASSIGN_OR_RETURN(auto ins, c.Prepare("INSERT INTO users (user_id, created_at_ms) VALUES (?,?)"));
    ins->Bind(1, ev.user_id).Bind(2, r.processed_at_ms);
    RETURN_IF_ERROR(ins->Run());
    user_idx = static_cast<int64_t>(sqlite3_last_insert_rowid(c.raw()));
  }
  r.interaction_id = NewId("int");
  InteractionRecord row;
  row.user_idx = *user_idx;
  row.item_idx = item_idx;
  row.type = ev.type;
  row.ts_ms = ev.ts_ms;
  row.rating = ev.rating;
  row.value = ev.value;
  row.quantity = ev.quantity;
  row.context_json = ev.context_json;
  row.metadata_json = ev.metadata_json;
  row.recommendation_id = ev.recommendation_id;
  ASSIGN_OR_RETURN(auto insert, c.Prepare(kInsertInteractionSql));
  ASSIGN_OR_RETURN(bool inserted, InsertInteractionRow(c, *insert, row, r.interaction_id));
  insert.reset();
  if (!inserted) {
    // The same interaction is stored already: answer with its id.
    ASSIGN_OR_RETURN(auto q, c.Prepare(
        "SELECT COALESCE(interaction_id, '') FROM interactions WHERE user_idx=? AND item_idx=? "
        "AND type=? AND ts_ms=?"));
    q->Bind(1, *user_idx).Bind(2, item_idx.value_or(-1)).Bind(3, ev.type).Bind(4, ev.ts_ms);
    ASSIGN_OR_RETURN(bool row, q->Step());
    r.interaction_id = row ? q->Text(0) : std::string();
    r.duplicate = true;
  } else {
    std::string payload = "{\"interaction_id\":";
    AppendJsonString(r.interaction_id, &payload);
    payload += ",\"user_idx\":" + std::to_string(*user_idx) + ",\"item_idx\":" +
               std::to_string(item_idx.value_or(-1)) + ",\"type\":";
    AppendJsonString(ev.type, &payload);
    payload += ",\"ts_ms\":" + std::to_string(ev.ts_ms) + "}";
    ASSIGN_OR_RETURN(auto e, c.Prepare(
        "INSERT INTO events (topic, payload, created_at_ms) VALUES ('user-interactions',?,?)"));
    e->Bind(1, payload).Bind(2, r.processed_at_ms);
    RETURN_IF_ERROR(e->Run());
  }
  if (!ev.idempotency_key.empty()) {
    ASSIGN_OR_RETURN(auto k, c.Prepare(
        "INSERT OR IGNORE INTO idempotency_keys (key, interaction_id, created_at_ms) VALUES (?,?,?)"));
    k->Bind(1, ev.idempotency_key).Bind(2, r.interaction_id).Bind(3, r.processed_at_ms);
    RETURN_IF_ERROR(k->Run());
  }
  return r;
}


}  // namespace embedrec::store
