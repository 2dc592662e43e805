#include "tenants/quotas.h"

#include <algorithm>

namespace embedrec::tenants {

DataQuotas::Slot::~Slot() {
  std::lock_guard lock(q_->mu_);
  if (auto it = q_->running_.find(tenant_); it != q_->running_.end() && --it->second <= 0) {
    q_->running_.erase(it);
  }
}

DataQuotas::Figures DataQuotas::Read(const std::string& tenant_id, const TenantLimits& limits) {
  const bool need_rows = limits.max_rows > 0 && o_.rows;
  const bool need_bytes = limits.max_storage_bytes > 0 && o_.storage_bytes;
  const int64_t now = o_.clock->NowMillis();
  Figures f;
  int64_t tracked_before = 0;
  {
    std::lock_guard lock(mu_);
    auto it = figures_.find(tenant_id);
    if (it != figures_.end()) {
      if (it->second.read_at_ms >= 0 && now - it->second.read_at_ms < o_.cache_ms) f = it->second;
      tracked_before = it->second.tracked;
    }
  }
  // Only what the limits check, each read at most once per cache_ms.
  const bool read_rows = need_rows && f.rows < 0, read_bytes = need_bytes && f.storage_bytes < 0;
  if (!read_rows && !read_bytes) return f;
  if (f.read_at_ms < 0) f.read_at_ms = now;
  if (read_bytes) {
    if (auto b = o_.storage_bytes(tenant_id); b.ok()) f.storage_bytes = *b;
  }
  bool rows_read = false;
  if (read_rows) {
    if (auto r = o_.rows(tenant_id); r.ok()) {
      f.rows = *r;
      rows_read = true;
    }
  }
  std::lock_guard lock(mu_);
  if (figures_.size() > 100'000) figures_.clear();  // bounded: figures are cheap to read again
  Figures& kept = figures_[tenant_id];
  // Events tracked before the read are in the rows read; those admitted while
  // it ran may not be, so they still count (at worst twice: a little early to
  // refuse, never late).
  if (rows_read) f.tracked = std::max<int64_t>(0, kept.tracked - tracked_before);
  else f.tracked = kept.tracked;
  kept = f;
  return f;
}

Status DataQuotas::Full(const Figures& f, const TenantLimits& limits, int64_t adding) {
  const int64_t rows = f.rows + f.tracked;
  // Full when the rows would pass the limit; an upload (adding 0) when they have reached it.
  if (limits.max_rows > 0 && f.rows >= 0 && rows + std::max<int64_t>(adding, 1) > limits.max_rows) {
    return Status(StatusCode::kPermissionDenied,
                  "the tenant stores " + std::to_string(rows) + " rows, its limit is " +
                      std::to_string(limits.max_rows) +
                      ": delete data or ask the platform admin to raise settings.limits.max_rows",
                  "row_quota_exceeded", {{"rows", std::to_string(rows)}, {"max_rows", std::to_string(limits.max_rows)}});
  }
  if (limits.max_storage_bytes > 0 && f.storage_bytes >= limits.max_storage_bytes) {
    return Status(StatusCode::kPermissionDenied,
                  "the tenant's space holds " + std::to_string(f.storage_bytes) + " bytes, its limit is " +
                      std::to_string(limits.max_storage_bytes) +
                      ": delete data or ask the platform admin to raise settings.limits.max_storage_bytes",
                  "storage_quota_exceeded",
                  {{"storage_bytes", std::to_string(f.storage_bytes)},
                   {"max_storage_bytes", std::to_string(limits.max_storage_bytes)}});
  }
  return Status::Ok();
}

Status DataQuotas::AdmitTracked(const std::string& tenant_id, const TenantLimits& limits, int64_t rows) {
  const bool need_rows = limits.max_rows > 0 && o_.rows;
  const bool need_bytes = limits.max_storage_bytes > 0 && o_.storage_bytes;
  if (!need_rows && !need_bytes) return Status::Ok();
  const int64_t now = o_.clock->NowMillis();
  bool read = false;
  Status verdict;  // unknown figures: admitted while they are read
  {
    std::lock_guard lock(mu_);
    // Unknown figures are an entry too, so that what it admits counts once they are read.
    Figures& f = figures_[tenant_id];
    verdict = Full(f, limits, rows);
    if (verdict.ok()) f.tracked += rows;
    const bool stale = f.read_at_ms < 0 || now - f.read_at_ms >= o_.cache_ms || (need_rows && f.rows < 0) ||
                       (need_bytes && f.storage_bytes < 0);
    read = stale && reading_.insert(tenant_id).second;
  }
  if (read) {
    auto task = [this, tenant_id, limits] {
      {
        std::lock_guard lock(mu_);
        // Read afresh; the entry stays, admitting from the old figures meanwhile.
        if (auto it = figures_.find(tenant_id); it != figures_.end()) it->second.read_at_ms = -1;
      }
      (void)Read(tenant_id, limits);
      std::lock_guard lock(mu_);
      reading_.erase(tenant_id);
    };
    if (o_.background) o_.background(tenant_id, std::move(task));
    else task();
  }
  return verdict;
}

StatusOr<std::unique_ptr<DataQuotas::Slot>> DataQuotas::Admit(const std::string& tenant_id,
                                                                  const TenantLimits& limits) {
  const Figures f = Read(tenant_id, limits);
  RETURN_IF_ERROR(Full(f, limits, 0));
  int64_t max_bytes = limits.max_upload_bytes;
  if (limits.max_storage_bytes > 0 && f.storage_bytes >= 0) {
    const int64_t left = limits.max_storage_bytes - f.storage_bytes;
    max_bytes = max_bytes > 0 ? std::min(max_bytes, left) : left;
  }
  std::lock_guard lock(mu_);
  auto it = running_.find(tenant_id);
  const int running = it == running_.end() ? 0 : it->second;
  if (limits.max_concurrent_uploads > 0 && running >= limits.max_concurrent_uploads) {
    return Status(StatusCode::kResourceExhausted,
                  "the tenant has " + std::to_string(running) +
                      " uploads in progress, its limit; retry when one ends",
                  "too_many_uploads",
                  {{"max_concurrent_uploads", std::to_string(limits.max_concurrent_uploads)},
                   {"retry_after_seconds", "1"}});
  }
  ++running_[tenant_id];
  return std::make_unique<Slot>(this, tenant_id, max_bytes);
}

void DataQuotas::Changed(const std::string& tenant_id) {
  std::lock_guard lock(mu_);
  figures_.erase(tenant_id);
}

}  // namespace embedrec::tenants
