// Publishes every tenant's event log (store::TenantStore::ReadEvents — the
// item-catalog-updated, interactions-uploaded, user-interactions and
// model-deployed events, appended in the same transactions as the data they
// describe: an outbox) to an EventPublisher, in order, at least once.
//
// An acknowledged write is durable in the tenant's store first (SQLite or
// PostgreSQL); the relay then publishes it within about `tick_ms` when the
// node that wrote it marks the tenant dirty, or at the next sweep of every
// tenant (`sweep_ms`) otherwise (a node stopped before publishing). Each
// tenant's published position is kept in its store (snapshot
// "events-published"); events past it are published again after a crash, and
// several nodes may publish one event twice: a message's (tenant_id, seq)
// names it for consumers that drop repeats.
//
// Message: key = tenant id; value = {"tenant_id", "seq", "topic",
// "created_at" (RFC 3339), "payload": the event's JSON}.
//
// Thread safety: MarkDirty may be called from any thread.
#pragma once

#include <atomic>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "common/clock.h"
#include "common/status.h"
#include "events/event_publisher.h"
#include "events/event_subscriber.h"
#include "store/tenant_stores.h"

namespace embedrec::events {

struct RelayOptions {
  int64_t tick_ms = 100;      // how often dirty tenants are published
  int64_t sweep_ms = 60'000;  // how often every tenant is looked at
  int batch = 1000;           // events read and published at once
};

class EventRelay {
 public:
  using ListTenants = std::function<StatusOr<std::vector<std::string>>()>;
  // Every pointer outlives the relay.
  EventRelay(store::TenantStores* stores, ListTenants list, EventPublisher* publisher, const Clock* clock,
             RelayOptions options = {});
  ~EventRelay();

  void Start();  // the relay's thread (a first sweep at once)
  void Stop();   // publishes what is dirty, then stops
  void MarkDirty(const std::string& tenant_id);
  // Publishes the tenant's events past its published position (the relay's
  // thread does it; public for tests). kNotFound for an unknown tenant.
  Status Relay(const std::string& tenant_id);
  int64_t published() const { return published_; }  // events published since start

 private:
  void Loop();

  store::TenantStores* stores_;
  ListTenants list_;
  EventPublisher* publisher_;
  const Clock* clock_;
  RelayOptions options_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::set<std::string> dirty_;  // GUARDED_BY(mu_)
  bool stopping_ = false;        // GUARDED_BY(mu_)
  std::thread thread_;
  std::atomic<int64_t> published_{0};
};

// The last seq of the tenant's log the relay published (0: none yet).
StatusOr<int64_t> PublishedThrough(store::TenantStore& store);

// The fields of a message the relay published (its value); false when it is
// not one. The payload comes back as JSON text.
bool ParsePublishedEvent(std::string_view value, ConsumedEvent* out);

}  // namespace embedrec::events
