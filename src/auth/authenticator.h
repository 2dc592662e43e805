// Turns an Authorization header into a Principal.
//
// Accepted bearer tokens: an API key ("sk_live_..."), a user access token
// (JWT), or the platform admin token. Credentials of a suspended tenant or a
// deactivated user are refused (kPermissionDenied / kUnauthenticated).
//
// Lookups are cached in memory so the hot path (an API key on every
// recommendation call) costs a hash and a map lookup. Every change to tenants,
// users or keys must call Invalidate(); entries also expire after
// `cache_ttl_ms` so that another node's change is seen within that time.
//
// Thread safety: safe for concurrent use. Authenticate may block on the store
// on a cache miss: call from worker threads.
#pragma once

#include <atomic>
#include <functional>
#include <memory>
#include <optional>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>

#include "auth/jwt.h"
#include "auth/jwt_keys.h"
#include "auth/principal.h"
#include "common/clock.h"
#include "store/control_store.h"

namespace embedrec::auth {

class Authenticator {
 public:
  struct Options {
    std::string jwt_secret;
    std::string admin_token_hash;  // HashSecret(admin token)
    // The keys of access tokens (auth/jwt_keys.h), shared with the session
    // service; when null, one key made of `jwt_secret`.
    std::shared_ptr<JwtKeys> jwt_keys;
    // Called (at most once a second) when a token names a key this node
    // does not know, or a token is not the admin token: another node may
    // have rotated them. Should update jwt_keys / return the stored admin
    // token hash. Either may be null.
    std::function<void()> reload_jwt_keys;
    std::function<std::optional<std::string>()> reload_admin_token_hash;
    int64_t cache_ttl_ms = 30'000;
    int64_t touch_interval_ms = 60'000;  // how often last_used_at is written per key
    size_t max_cache_entries = 100'000;
  };
  Authenticator(store::ControlStore* store, const Clock* clock, Options options);

  // kUnauthenticated: missing, malformed, unknown, expired or revoked credentials.
  // kPermissionDenied: the tenant is suspended.
  StatusOr<Principal> Authenticate(std::string_view authorization_header);

  // The tenant a bearer token acts for, from cached or self-contained
  // knowledge only (a cached API key, a JWT's verified claims); "" when
  // unknown. Never blocks: used to pick a request's worker queue before it
  // is authenticated. With `complete`, only when Authenticate(header) would
  // answer from memory alone too (for a JWT: its user is cached).
  std::string CachedTenant(std::string_view authorization_header, bool complete = false);

  // True when the header carries the platform admin token (memory only:
  // fit for a network thread).
  bool IsPlatformAdmin(std::string_view authorization_header) const;

  // Drops every cached lookup. Call after any change to tenants, users or keys;
  // then tells the other nodes (OnInvalidate), which drop theirs (InvalidateHere).
  void Invalidate();
  void InvalidateHere();
  // Called by every Invalidate (scale-out: the other nodes are told). Set once,
  // before concurrent use.
  void OnInvalidate(std::function<void()> fn) { on_invalidate_ = std::move(fn); }

  // The key of what must not change when the signing key does (tenant
  // aliases on /metrics): JwtKeyRing::label_key.
  std::string label_key() const { return keys_->Get()->label_key(); }
  const std::shared_ptr<JwtKeys>& jwt_keys() const { return keys_; }
  // A new admin token (its hash) takes effect at once; the old one is refused.
  void SetAdminTokenHash(std::string hash) {
    admin_hash_.store(std::make_shared<const std::string>(std::move(hash)));
  }

  // OK for an active tenant; 403 tenant_suspended or tenant_deleting otherwise.
  static Status CheckTenantStatus(const std::string& status);

 private:
  struct Entry {
    Principal principal;
    std::string tenant_status;
    uint64_t generation;
    int64_t cached_at_ms;
    int64_t touched_at_ms;
    bool revoked = false;  // a session ("s:<sid>"): its login was ended
    std::optional<int64_t> expires_at_ms;  // an API key's end
  };
  StatusOr<Principal> FromApiKey(std::string_view token);
  // 401 for an API key past its expires_at_ms.
  Status CheckExpiry(const std::optional<int64_t>& expires_at_ms) const;
  StatusOr<Principal> FromJwt(std::string_view token);
  // Cached principal for `cache_key`, or nullptr (caller holds no lock).
  bool Lookup(const std::string& cache_key, Entry* out);
  void Remember(const std::string& cache_key, Entry entry);

  // The token's claims, verified with the ring (read again once when the
  // token names a key this node does not know yet).
  StatusOr<JwtClaims> Verify(std::string_view token, bool may_reload);
  bool MatchesAdminToken(std::string_view token) const;

  store::ControlStore* store_;
  const Clock* clock_;
  Options options_;
  std::shared_ptr<JwtKeys> keys_;
  std::atomic<std::shared_ptr<const std::string>> admin_hash_;
  OncePer keys_reload_{1000}, admin_reload_{1000};  // the stored keys (admin token) read again
  std::atomic<uint64_t> generation_{1};
  std::function<void()> on_invalidate_;
  std::mutex mu_;
  std::unordered_map<std::string, Entry> cache_;
};

}  // namespace embedrec::auth
