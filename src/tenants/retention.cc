#include "tenants/retention.h"

#include <spdlog/spdlog.h>

#include <cstdint>

#include "common/thread_priority.h"
#include "common/time_format.h"

namespace embedrec::tenants {

Retention::Retention(store::ControlStore* control, store::TenantStores* stores, const Clock* clock,
                     RetentionOptions options)
    : control_(control), stores_(stores), clock_(clock), options_(std::move(options)) {}

Retention::~Retention() { Stop(); }

void Retention::Start() {
  if (options_.event_days <= 0 && options_.idempotency_hours <= 0 && options_.archive_days <= 0 &&
      !options_.remove_abandoned_blobs) {
    return;
  }
  thread_ = std::thread([this] {
    (void)NiceThisThread(10);  // background work: requests come first
    std::unique_lock lock(mu_);
    while (!cv_.wait_for(lock, std::chrono::milliseconds(options_.interval_ms), [&] { return stop_; })) {
      lock.unlock();
      if (options_.take_turn && !options_.take_turn()) {  // another node's turn
        lock.lock();
        continue;
      }
      auto n = RunOnce();
      if (!n.ok()) spdlog::warn("retention: {}", n.status().ToString());
      else if (*n > 0) spdlog::info("retention: {} old events, idempotency keys, archives and abandoned writes deleted", *n);
      lock.lock();
    }
  });
}

void Retention::Stop() {
  {
    std::lock_guard lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

StatusOr<int64_t> Retention::RunOnce() {
  const int64_t now = clock_->NowMillis();
  int64_t deleted = 0;
  std::string cursor;
  do {
    ASSIGN_OR_RETURN(auto page, control_->ListTenants(cursor, 500));
    for (const auto& t : page.tenants) {
      {
        std::lock_guard lock(mu_);
        if (stop_) return deleted;
      }
      auto n = PruneTenant(t.id, now);
      if (n.ok()) deleted += *n;
      else if (n.status().code() != StatusCode::kNotFound) spdlog::warn("retention of tenant {}: {}", t.id, n.status().ToString());
    }
    cursor = page.next_cursor.value_or("");
  } while (!cursor.empty());
  if (options_.remove_abandoned_blobs) {
    auto n = options_.remove_abandoned_blobs(now - options_.abandoned_after_ms);
    if (n.ok()) deleted += *n;
    else spdlog::warn("retention of abandoned blob writes: {}", n.status().ToString());
  }
  return deleted;
}

namespace {
// The day in an archive's name ("uploads/items_20240115_upl_….csv.zst"), or nullopt.
std::optional<int64_t> ArchiveDayMs(const std::string& key) {
  const size_t a = key.find('_');
  if (a == std::string::npos || key.size() < a + 9) return std::nullopt;
  const std::string d = key.substr(a + 1, 8);
  if (d.find_first_not_of("0123456789") != std::string::npos) return std::nullopt;
  return ParseRfc3339Millis(d.substr(0, 4) + "-" + d.substr(4, 2) + "-" + d.substr(6, 2) + "T00:00:00Z");
}
}  // namespace

StatusOr<int64_t> Retention::PruneArchives(const std::string& tenant_id, int64_t before_ms) {
  ASSIGN_OR_RETURN(auto blobs, options_.open_blobs(tenant_id));
  ASSIGN_OR_RETURN(auto archives, blobs->List("uploads/"));
  int64_t deleted = 0;
  for (const auto& a : archives) {
    // A day ends after its start: kept until the whole day is past the limit.
    auto day = ArchiveDayMs(a.key);
    if (!day || *day + 86'400'000 > before_ms) continue;
    RETURN_IF_ERROR(blobs->Delete(a.key));
    ++deleted;
  }
  return deleted;
}

StatusOr<int64_t> Retention::PruneTenant(const std::string& tenant_id, int64_t now_ms) {
  ASSIGN_OR_RETURN(auto store, stores_->Open(tenant_id));
  int64_t deleted = 0;
  if (options_.event_days > 0) {
    int64_t through = INT64_MAX;
    if (options_.published_through) {
      ASSIGN_OR_RETURN(through, options_.published_through(*store));
    }
    const int64_t before = now_ms - options_.event_days * 86'400'000;
    while (true) {  // batches, so no statement holds the tenant's writes for long
      ASSIGN_OR_RETURN(int64_t n, store->PruneEvents(before, through, options_.batch));
      deleted += n;
      if (n < options_.batch) break;
    }
  }
  if (options_.idempotency_hours > 0) {
    ASSIGN_OR_RETURN(int64_t n, store->PruneIdempotencyKeys(now_ms - options_.idempotency_hours * 3'600'000));
    deleted += n;
  }
  if (options_.archive_days > 0 && options_.open_blobs) {
    ASSIGN_OR_RETURN(int64_t n, PruneArchives(tenant_id, now_ms - options_.archive_days * 86'400'000));
    deleted += n;
  }
  return deleted;
}

}  // namespace embedrec::tenants
