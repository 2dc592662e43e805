#include "tenants/quotas.h"

#include <algorithm>

namespace embedrec::tenants {

UploadQuotas::Slot::~Slot() {
  std::lock_guard lock(q_->mu_);
  if (auto it = q_->running_.find(tenant_); it != q_->running_.end() && --it->second <= 0) {
    q_->running_.erase(it);
  }
}

UploadQuotas::Figures UploadQuotas::Read(const std::string& tenant_id, const TenantLimits& limits) {
  const bool need_rows = limits.max_rows > 0 && o_.rows;
  const bool need_bytes = limits.max_storage_bytes > 0 && o_.storage_bytes;
  const int64_t now = o_.clock->NowMillis();
  Figures f;
  {
    std::lock_guard lock(mu_);
    auto it = figures_.find(tenant_id);
    if (it != figures_.end() && now - it->second.read_at_ms < o_.cache_ms) f = it->second;
  }
  // Only what the limits check, each read at most once per cache_ms.
  const bool read_rows = need_rows && f.rows < 0, read_bytes = need_bytes && f.storage_bytes < 0;
  if (!read_rows && !read_bytes) return f;
  if (f.read_at_ms < 0) f.read_at_ms = now;
  if (read_bytes) {
    if (auto b = o_.storage_bytes(tenant_id); b.ok()) f.storage_bytes = *b;
  }
  if (read_rows) {
    if (auto r = o_.rows(tenant_id); r.ok()) f.rows = *r;
  }
  std::lock_guard lock(mu_);
  if (figures_.size() > 100'000) figures_.clear();  // bounded: figures are cheap to read again
  figures_[tenant_id] = f;
  return f;
}

StatusOr<std::unique_ptr<UploadQuotas::Slot>> UploadQuotas::Admit(const std::string& tenant_id,
                                                                  const TenantLimits& limits) {
  const Figures f = Read(tenant_id, limits);
  if (limits.max_rows > 0 && f.rows >= limits.max_rows) {
    return Status(StatusCode::kPermissionDenied,
                  "the tenant stores " + std::to_string(f.rows) + " rows, its limit is " +
                      std::to_string(limits.max_rows) +
                      ": delete data or ask the platform admin to raise settings.limits.max_rows",
                  "row_quota_exceeded", {{"rows", std::to_string(f.rows)}, {"max_rows", std::to_string(limits.max_rows)}});
  }
  int64_t max_bytes = limits.max_upload_bytes;
  if (limits.max_storage_bytes > 0 && f.storage_bytes >= 0) {
    const int64_t left = limits.max_storage_bytes - f.storage_bytes;
    if (left <= 0) {
      return Status(StatusCode::kPermissionDenied,
                    "the tenant's space holds " + std::to_string(f.storage_bytes) + " bytes, its limit is " +
                        std::to_string(limits.max_storage_bytes) +
                        ": delete data or ask the platform admin to raise settings.limits.max_storage_bytes",
                    "storage_quota_exceeded",
                    {{"storage_bytes", std::to_string(f.storage_bytes)},
                     {"max_storage_bytes", std::to_string(limits.max_storage_bytes)}});
    }
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

void UploadQuotas::Changed(const std::string& tenant_id) {
  std::lock_guard lock(mu_);
  figures_.erase(tenant_id);
}

}  // namespace embedrec::tenants
