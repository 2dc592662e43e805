// The counters behind abuse limits, shared by the nodes when the backend is
// (Redis): token buckets for request rates, and failure windows with a
// doubling lockout for login attempts. Each operation is atomic per key.
//
// Times are the callers' clocks in milliseconds. Keys are the callers'
// ("login:<email>", "rate:key:<id>"); a backend may prefix them.
//
// Thread safety: implementations are safe for concurrent use.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "common/status.h"

namespace embedrec::limits {

// A token bucket: `burst` tokens when full, refilled at `per_second`.
struct BucketPolicy {
  double per_second = 0;
  double burst = 0;
};
struct Taken {
  int granted = 0;             // tokens taken (at most those asked for)
  int64_t retry_after_ms = 0;  // when refused: until a token is back
  bool allowed() const { return granted > 0; }
};

// After `max_failures` failures inside `window_ms`, the key is locked out for
// `base_lockout_ms`, doubled by each further failure, up to `max_lockout_ms`.
struct FailurePolicy {
  int max_failures = 5;
  int64_t window_ms = 900'000;
  int64_t base_lockout_ms = 30'000;
  int64_t max_lockout_ms = 900'000;
};

class LimitStore {
 public:
  virtual ~LimitStore() = default;
  // Takes up to `want` tokens from the key's bucket (full when new): as many
  // as it holds whole, none when it holds less than one.
  virtual StatusOr<Taken> Take(const std::string& key, const BucketPolicy& policy, int64_t now_ms, int want = 1) = 0;
  // Counts a failure; returns when the key's lockout ends (0: not locked).
  virtual StatusOr<int64_t> Fail(const std::string& key, const FailurePolicy& policy, int64_t now_ms) = 0;
  // When the key's lockout ends (0: not locked).
  virtual StatusOr<int64_t> LockedUntil(const std::string& key, int64_t now_ms) = 0;
  // Forgets the key's failures (a success).
  virtual Status Clear(const std::string& key) = 0;
};

// In this process (the embedded default): at most `max_keys` keys, idle
// ones dropped first.
std::unique_ptr<LimitStore> NewMemoryLimitStore(size_t max_keys = 100'000);

// In Redis ("redis://[:password@]host[:port][/db]"), shared by the nodes;
// keys under "embedrec:limits:". kInvalidArgument for a bad URL,
// kUnavailable when the server does not answer at start.
StatusOr<std::unique_ptr<LimitStore>> OpenRedisLimitStore(const std::string& url);

// `shared`'s buckets taken from in batches: a bucket's tokens are fetched
// up to a twentieth of a second's worth at once (at most a tenth of the
// burst) and spent here for up to 100 ms, so a high limit costs one round
// trip per batch, not per request. One fetch per key at a time (the other
// threads wait for it); each batch sized by what the node spent of the last
// (doubling while batches run out, a quarter over the spending when they
// lapse), so a node draws from the bucket about what it admits. A low limit
// (under 20 per second) is fetched token by token: exact. A refused fetch is
// remembered until the bucket said a token is back. Each node may
// admit at most one batch more than the bucket held; unspent tokens lapse
// (never admitted twice).
std::unique_ptr<LimitStore> WithLocalBatches(std::unique_ptr<LimitStore> shared);

// `shared`, and `local` whenever `shared` fails (Redis restarting): limits
// then count per node until it is back, rather than refusing or letting
// everything through.
std::unique_ptr<LimitStore> WithLocalFallback(std::unique_ptr<LimitStore> shared, std::unique_ptr<LimitStore> local);

}  // namespace embedrec::limits
