// The training jobs every node with the ml role takes from (scale-out): a
// job waits in the queue until a node claims it, and is that node's while the
// node renews its lease. A job whose lease ran out (its node stopped or lost
// the database) is claimed again by the next node that asks: another attempt.
// One job per tenant at a time, oldest first across tenants.
//
// Times are the callers' clocks in milliseconds (the nodes' clocks are
// assumed to agree to well within a lease).
//
// Thread safety: implementations are safe for concurrent use, by several
// processes when the backend is shared (PostgreSQL).
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/status.h"

namespace embedrec::store {

struct QueuedJob {
  std::string job_id;
  std::string tenant_id;
  int64_t enqueued_at_ms = 0;
  std::string holder;         // the node that holds it; "" while it waits
  int64_t lease_until_ms = 0;  // the holder's lease ends then
  int attempts = 0;           // times a node claimed it
  bool cancel_requested = false;
};

// What RequestCancel found.
enum class CancelOutcome {
  kRemoved,  // it was waiting: removed, nobody runs it (the caller records it cancelled)
  kFlagged,  // a node holds it: it sees the flag on its next renewal
  kAbsent,   // not in the queue
};

class JobQueue {
 public:
  virtual ~JobQueue() = default;

  // Adds the tenant's job, held by `holder` (the submitting node) for a
  // lease, or waiting when `holder` is "". kAlreadyExists when the tenant
  // already has a job in the queue (Get tells which).
  virtual Status Enqueue(const std::string& tenant_id, const std::string& job_id, const std::string& holder,
                         int64_t now_ms, int64_t lease_ms) = 0;
  // The oldest job that waits or whose lease ran out, now held by `node`
  // for a lease (its attempts counted); nullopt when there is none.
  virtual StatusOr<std::optional<QueuedJob>> Claim(const std::string& node, int64_t now_ms, int64_t lease_ms) = 0;
  // Extends the lease of every job `node` holds and returns them: a job the
  // node believes it holds and that is missing was lost (its lease ran out
  // and another node claimed it).
  virtual StatusOr<std::vector<QueuedJob>> Renew(const std::string& node, int64_t now_ms, int64_t lease_ms) = 0;
  // The job goes back to waiting, for any node (its holder is stopping).
  // Only `node`'s: kNotFound otherwise.
  virtual Status Release(const std::string& job_id, const std::string& node) = 0;
  // The job left the queue (it ended), when `node` holds it: a job another
  // node took over stays. Ok when it was not there (or not `node`'s).
  virtual Status Remove(const std::string& job_id, const std::string& node) = 0;
  virtual StatusOr<CancelOutcome> RequestCancel(const std::string& job_id) = 0;
  // The job, or the tenant's job; nullopt when not queued.
  virtual StatusOr<std::optional<QueuedJob>> Get(const std::string& job_id) = 0;
  virtual StatusOr<std::optional<QueuedJob>> OfTenant(const std::string& tenant_id) = 0;
  // Jobs waiting that were queued before `job_id` (its place in the line).
  virtual StatusOr<int> WaitingAhead(const std::string& job_id) = 0;
};

// In this process only (tests; one node's own queue).
std::unique_ptr<JobQueue> NewMemoryJobQueue();
// In PostgreSQL (schema `schema`, made when missing), shared by the nodes.
// kUnavailable when the server cannot be reached.
StatusOr<std::unique_ptr<JobQueue>> OpenPostgresJobQueue(const std::string& url, const std::string& schema = "jobs");

}  // namespace embedrec::store
