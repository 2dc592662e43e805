#include "serving/tenant_memory.h"

#include <utility>

namespace embedrec::serving {

TenantMemory::TenantMemory(int64_t budget_bytes, Evict evict, std::function<int64_t()> models_bytes)
    : budget_(budget_bytes), evict_(std::move(evict)), models_bytes_(std::move(models_bytes)) {}

int64_t TenantMemory::ModelsBytes() const { return models_bytes_ ? models_bytes_() : 0; }

int64_t TenantMemory::HeldLocked() const {
  int64_t held = 0;
  for (int64_t b : part_bytes_) held += b;
  return held;
}

void TenantMemory::Touch(const std::string& tenant_id) {
  int64_t held = 0;
  {
    std::lock_guard lock(mu_);
    auto it = entries_.find(tenant_id);
    if (it == entries_.end()) {
      lru_.push_front(tenant_id);
      entries_.emplace(tenant_id, Entry{{}, lru_.begin()});
    } else if (it->second.lru != lru_.begin()) {
      lru_.splice(lru_.begin(), lru_, it->second.lru);
    }
    held = HeldLocked();
  }
  if (budget_ > 0 && held + ModelsBytes() > budget_) Enforce(tenant_id);
}

void TenantMemory::Set(const std::string& tenant_id, Part part, int64_t bytes) {
  const int p = static_cast<int>(part);
  {
    std::lock_guard lock(mu_);
    auto it = entries_.find(tenant_id);
    if (it == entries_.end()) {
      if (bytes <= 0 || part == Part::kLog) return;
      lru_.push_front(tenant_id);
      it = entries_.emplace(tenant_id, Entry{{}, lru_.begin()}).first;
    } else if (it->second.lru != lru_.begin()) {
      lru_.splice(lru_.begin(), lru_, it->second.lru);
    }
    part_bytes_[p] += bytes - it->second.bytes[p];
    it->second.bytes[p] = bytes;
  }
  if (budget_ > 0 && bytes > 0) Enforce(tenant_id);
}

void TenantMemory::Forget(const std::string& tenant_id) {
  std::lock_guard lock(mu_);
  auto it = entries_.find(tenant_id);
  if (it == entries_.end()) return;
  for (int p = 0; p < kParts; ++p) part_bytes_[p] -= it->second.bytes[p];
  lru_.erase(it->second.lru);
  entries_.erase(it);
}

void TenantMemory::Enforce(const std::string& keep) {
  // One tenant at a time: dropping it frees its models too, which only
  // models_bytes() can tell. Each round removes an entry, so this ends.
  for (;;) {
    const int64_t models = ModelsBytes();
    std::string victim;
    {
      std::lock_guard lock(mu_);
      if (HeldLocked() + models <= budget_) return;
      for (auto it = lru_.rbegin(); it != lru_.rend(); ++it) {
        if (*it != keep) {
          victim = *it;
          break;
        }
      }
      if (victim.empty()) return;
      auto e = entries_.find(victim);
      for (int p = 0; p < kParts; ++p) part_bytes_[p] -= e->second.bytes[p];
      lru_.erase(e->second.lru);
      entries_.erase(e);
      ++evictions_;
    }
    evict_(victim);
  }
}

TenantMemory::Usage TenantMemory::usage() const {
  const int64_t models = ModelsBytes();
  std::lock_guard lock(mu_);
  Usage u;
  u.tenants = static_cast<int64_t>(entries_.size());
  u.catalog_bytes = part_bytes_[static_cast<int>(Part::kCatalog)];
  u.activity_bytes = part_bytes_[static_cast<int>(Part::kActivity)];
  u.log_bytes = part_bytes_[static_cast<int>(Part::kLog)];
  u.models_bytes = models;
  u.budget = budget_;
  u.evictions = evictions_;
  return u;
}

}  // namespace embedrec::serving
