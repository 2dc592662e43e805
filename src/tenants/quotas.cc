#include "tenants/quotas.h"

#include <algorithm>
#include <optional>
#include <utility>

namespace embedrec::tenants {

DataQuotas::Slot::~Slot() {
  std::lock_guard lock(q_->mu_);
  if (auto it = q_->running_.find(tenant_); it != q_->running_.end() && --it->second <= 0) {
    q_->running_.erase(it);
  }
}

DataQuotas::Figures DataQuotas::Read(const std::string& tenant_id, const TenantLimits& limits, bool fresh,
                                     bool* current) {
  const bool need_rows = ChecksRows(limits);
  const bool need_bytes = ChecksBytes(limits);
  const int64_t now = o_.clock->NowMillis();
  Figures f;
  int64_t tracked_before = 0, change = 0;
  {
    std::lock_guard lock(mu_);
    auto it = figures_.find(tenant_id);
    if (it != figures_.end()) {
      if (!fresh && it->second.read_at_ms >= 0 && now - it->second.read_at_ms < o_.cache_ms) f = it->second;
      tracked_before = it->second.tracked;
    }
    if (auto c = changes_.find(tenant_id); c != changes_.end()) change = c->second;
  }
  if (current) *current = true;
  // Only what the limits check, each read at most once per cache_ms.
  const bool read_rows = need_rows && f.rows < 0, read_bytes = need_bytes && f.storage_bytes < 0;
  if (!read_rows && !read_bytes) return f;
  if (f.read_at_ms < 0) f.read_at_ms = now;
  if (read_bytes) {
    f.bytes_tried = true;
    if (auto b = o_.storage_bytes(tenant_id); b.ok()) f.storage_bytes = *b;
  }
  bool rows_read = false;
  if (read_rows) {
    f.rows_tried = true;
    if (auto r = o_.rows(tenant_id); r.ok()) {
      f.rows = *r;
      rows_read = true;
    }
  }
  std::lock_guard lock(mu_);
  if (auto c = changes_.find(tenant_id); (c == changes_.end() ? 0 : c->second) != change) {
    if (current) *current = false;  // read before the data changed: not kept
    return f;
  }
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

bool DataQuotas::Unknown(const Figures& f, const TenantLimits& limits) const {
  return (ChecksRows(limits) && f.rows < 0 && !f.rows_tried) ||
         (ChecksBytes(limits) && f.storage_bytes < 0 && !f.bytes_tried);
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

Status DataQuotas::AdmitKnown(Figures& f, const TenantLimits& limits, int64_t rows, bool* stale) const {
  const Status verdict = Full(f, limits, rows);
  if (verdict.ok()) f.tracked += rows;
  const bool need_rows = ChecksRows(limits);
  const bool need_bytes = ChecksBytes(limits);
  *stale = f.read_at_ms < 0 || o_.clock->NowMillis() - f.read_at_ms >= o_.cache_ms ||
           (need_rows && f.rows < 0) || (need_bytes && f.storage_bytes < 0);
  return verdict;
}

std::optional<Status> DataQuotas::TryAdmitTracked(const std::string& tenant_id, const TenantLimits& limits,
                                                  int64_t rows, std::function<void(Status)>* then) {
  const bool need_rows = ChecksRows(limits);
  const bool need_bytes = ChecksBytes(limits);
  if (!need_rows && !need_bytes) return Status::Ok();
  if (!o_.background) return AdmitTracked(tenant_id, limits, rows);
  std::optional<Status> verdict;
  bool post = false;
  {
    std::lock_guard lock(mu_);
    Figures& f = figures_[tenant_id];
    const int64_t allowance = limits.max_rows > 0 ? limits.max_rows / kUnknownAllowance : 0;
    if (!Unknown(f, limits)) {
      bool stale = false;
      verdict = AdmitKnown(f, limits, rows, &stale);
      post = stale && reading_.insert(tenant_id).second;
    } else if (f.tracked + rows <= allowance && waiting_.count(tenant_id) == 0) {
      // Within a thousandth of the row limit: admitted at once (counted
      // once the figures are read), so that a tenant with room to spare
      // never waits for its count.
      f.tracked += rows;
      verdict = Status::Ok();
      post = reading_.insert(tenant_id).second;
    } else if (then) {
      // Waits for the read: admitted from no figure, a burst of events would
      // pass the limit by however many come before the read ends.
      waiting_[tenant_id].push_back({limits, rows, std::move(*then)});
      post = reading_.insert(tenant_id).second;
    }
  }
  if (post) o_.background(tenant_id, [this, tenant_id, limits] { ReadAndAdmitWaiting(tenant_id, limits); });
  return verdict;
}

void DataQuotas::AdmitTracked(const std::string& tenant_id, const TenantLimits& limits, int64_t rows,
                              std::function<void(Status)> then) {
  if (auto verdict = TryAdmitTracked(tenant_id, limits, rows, &then)) then(std::move(*verdict));
}

Status DataQuotas::AdmitTracked(const std::string& tenant_id, const TenantLimits& limits, int64_t rows) {
  const bool need_rows = ChecksRows(limits);
  const bool need_bytes = ChecksBytes(limits);
  if (!need_rows && !need_bytes) return Status::Ok();
  bool unknown = false;
  {
    std::lock_guard lock(mu_);
    unknown = Unknown(figures_[tenant_id], limits);
  }
  if (unknown) (void)Read(tenant_id, limits);  // on the caller: it waits anyway
  Status verdict;
  bool post = false;
  {
    std::lock_guard lock(mu_);
    bool stale = false;
    verdict = AdmitKnown(figures_[tenant_id], limits, rows, &stale);
    post = stale && reading_.insert(tenant_id).second;
  }
  if (post) {
    if (o_.background) {
      o_.background(tenant_id, [this, tenant_id, limits] { ReadAndAdmitWaiting(tenant_id, limits); });
    } else {
      ReadAndAdmitWaiting(tenant_id, limits);
    }
  }
  return verdict;
}

void DataQuotas::ReadAndAdmitWaiting(const std::string& tenant_id, const TenantLimits& limits) {
  // Afresh (the entry stays, admitting from the old figures meanwhile); again
  // when the data changed during the read, a few times at most.
  for (int tries = 0; tries < 3; ++tries) {
    bool current = false;
    (void)Read(tenant_id, limits, /*fresh=*/true, &current);
    if (current) break;
  }
  std::vector<std::pair<std::function<void(Status)>, Status>> verdicts;
  {
    std::lock_guard lock(mu_);
    reading_.erase(tenant_id);
    if (auto w = waiting_.find(tenant_id); w != waiting_.end()) {
      Figures& f = figures_[tenant_id];
      for (Waiting& e : w->second) {
        bool stale = false;  // (a figure the read could not get admits, as unknown ones do)
        verdicts.emplace_back(std::move(e.then), AdmitKnown(f, e.limits, e.rows, &stale));
      }
      waiting_.erase(w);
    }
  }
  for (auto& [then, verdict] : verdicts) then(std::move(verdict));
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
  if (changes_.size() > 100'000) changes_.clear();  // a read in flight then reads again: harmless
  ++changes_[tenant_id];
}

}  // namespace embedrec::tenants
