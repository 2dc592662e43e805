#include "auth/authenticator.h"

#include <spdlog/spdlog.h>

#include "auth/api_key.h"
#include "auth/jwt.h"
#include "common/random.h"
#include "common/time_format.h"

namespace embedrec::auth {

namespace {
Status BadCredentials(std::string msg) {
  return Status::Unauthenticated(std::move(msg)).WithReason("invalid_credentials");
}
}  // namespace

Authenticator::Authenticator(store::ControlStore* store, const Clock* clock, Options options)
    : store_(store), clock_(clock), options_(std::move(options)),
      keys_(options_.jwt_keys ? options_.jwt_keys
                              : std::make_shared<JwtKeys>(JwtKeyRing::Single("k0", options_.jwt_secret, 0))),
      admin_hash_(std::make_shared<const std::string>(options_.admin_token_hash)) {}

StatusOr<JwtClaims> Authenticator::Verify(std::string_view token, bool may_reload) {
  const int64_t now = clock_->NowSeconds();
  auto verify = [&] {
    auto ring = keys_->Get();
    return VerifyJwt(
        token, [&ring, now](std::string_view kid) { return ring->SecretFor(kid, now, kAccessTokenTtlSeconds); },
        now);
  };
  auto claims = verify();
  if (!claims.ok() && claims.status().reason() == "unknown_key_id" && may_reload && options_.reload_jwt_keys &&
      keys_reload_.Take(clock_->NowMillis())) {
    options_.reload_jwt_keys();  // another node may have rotated the keys
    claims = verify();
  }
  return claims;
}

bool Authenticator::MatchesAdminToken(std::string_view token) const {
  auto hash = admin_hash_.load();
  return !hash->empty() && ConstantTimeEquals(HashSecret(token), *hash);
}

void Authenticator::Invalidate() {
  InvalidateHere();
  if (on_invalidate_) on_invalidate_();
}

void Authenticator::InvalidateHere() {
  generation_.fetch_add(1);
  std::lock_guard lock(mu_);
  cache_.clear();
}

bool Authenticator::Lookup(const std::string& key, Entry* out) {
  int64_t now = clock_->NowMillis();
  std::lock_guard lock(mu_);
  auto it = cache_.find(key);
  if (it == cache_.end()) return false;
  if (it->second.generation != generation_.load() ||
      now - it->second.cached_at_ms > options_.cache_ttl_ms) {
    cache_.erase(it);
    return false;
  }
  *out = it->second;
  if (now - it->second.touched_at_ms >= options_.touch_interval_ms) {
    it->second.touched_at_ms = now;
  }
  return true;
}

void Authenticator::Remember(const std::string& key, Entry entry) {
  std::lock_guard lock(mu_);
  if (entry.generation != generation_.load()) return;  // raced with an invalidation
  if (cache_.size() >= options_.max_cache_entries) cache_.clear();
  cache_[key] = std::move(entry);
}

Status Authenticator::CheckTenantStatus(const std::string& status) {
  if (status == "active") return Status::Ok();
  if (status == "deleting") {
    return Status(StatusCode::kPermissionDenied, "this tenant is being deleted", "tenant_deleting");
  }
  return Status(StatusCode::kPermissionDenied, "this tenant is suspended", "tenant_suspended");
}

namespace {
// The token of "Bearer <token>" (trimmed); nullopt when the header is not one.
std::optional<std::string_view> BearerToken(std::string_view header) {
  constexpr std::string_view kBearer = "Bearer ";
  if (header.size() <= kBearer.size() ||
      !std::equal(kBearer.begin(), kBearer.end(), header.begin(),
                  [](char a, char b) { return std::tolower(a) == std::tolower(b); })) {
    return std::nullopt;
  }
  std::string_view token = header.substr(kBearer.size());
  while (!token.empty() && token.front() == ' ') token.remove_prefix(1);
  while (!token.empty() && token.back() == ' ') token.remove_suffix(1);
  return token;
}
}  // namespace

bool Authenticator::IsPlatformAdmin(std::string_view header) const {
  auto token = BearerToken(header);
  return token && !token->empty() && token->size() <= 4096 && MatchesAdminToken(*token);
}

StatusOr<Principal> Authenticator::Authenticate(std::string_view header) {
  if (header.empty()) {
    return Status::Unauthenticated("missing Authorization header; send 'Bearer <token>'")
        .WithReason("missing_credentials");
  }
  auto bearer = BearerToken(header);
  if (!bearer) return BadCredentials("Authorization header must be 'Bearer <token>'");
  std::string_view token = *bearer;
  if (token.empty() || token.size() > 4096) return BadCredentials("malformed bearer token");

  if (LooksLikeApiKey(token)) return FromApiKey(token);
  if (std::count(token.begin(), token.end(), '.') == 2) return FromJwt(token);
  bool admin = MatchesAdminToken(token);
  if (!admin && options_.reload_admin_token_hash && admin_reload_.Take(clock_->NowMillis())) {
    // Another node may have rotated the admin token.
    if (auto stored = options_.reload_admin_token_hash(); stored && *stored != *admin_hash_.load()) {
      SetAdminTokenHash(*stored);
      admin = MatchesAdminToken(token);
    }
  }
  if (admin) {
    Principal p;
    p.kind = Principal::Kind::kPlatformAdmin;
    p.permissions = ~0u;
    return p;
  }
  return BadCredentials("unknown bearer token");
}

std::string Authenticator::CachedTenant(std::string_view header, bool complete) {
  auto bearer = BearerToken(header);  // as Authenticate reads it
  if (!bearer || bearer->empty() || bearer->size() > 4096) return {};
  std::string_view token = *bearer;
  Entry e;
  if (LooksLikeApiKey(token)) {
    return Lookup("k:" + HashSecret(token), &e) ? e.principal.tenant_id : std::string();
  }
  if (std::count(token.begin(), token.end(), '.') == 2) {
    auto claims = Verify(token, /*may_reload=*/false);  // never blocks here
    if (!claims.ok() || (complete && !Lookup("u:" + claims->sub, &e))) return {};
    return claims->tid;
  }
  return {};
}

StatusOr<Principal> Authenticator::FromApiKey(std::string_view token) {
  std::string hash = HashSecret(token);
  std::string cache_key = "k:" + hash;
  Entry e;
  if (Lookup(cache_key, &e)) {
    RETURN_IF_ERROR(CheckExpiry(e.expires_at_ms));
    RETURN_IF_ERROR(CheckTenantStatus(e.tenant_status));
    return e.principal;
  }
  uint64_t gen = generation_.load();
  auto key = store_->GetApiKeyByHash(hash);
  if (!key.ok()) {
    if (key.status().code() == StatusCode::kNotFound) return BadCredentials("unknown API key");
    return key.status();
  }
  if (key->revoked_at_ms) return BadCredentials("this API key has been revoked");
  RETURN_IF_ERROR(CheckExpiry(key->expires_at_ms));
  ASSIGN_OR_RETURN(auto tenant, store_->GetTenant(key->tenant_id));
  Principal p;
  p.kind = Principal::Kind::kApiKey;
  p.tenant_id = key->tenant_id;
  p.key_id = key->id;
  p.publishable = IsPublishable(key->key_prefix);
  for (const auto& s : key->scopes) {
    if (auto bit = ParseScope(s)) p.permissions |= *bit;
  }
  int64_t now = clock_->NowMillis();
  if (!key->last_used_at_ms || now - *key->last_used_at_ms >= options_.touch_interval_ms) {
    Status ts = store_->TouchApiKey(key->id, now);
    if (!ts.ok()) spdlog::warn("could not record last use of key {}: {}", key->id, ts.ToString());
  }
  Remember(cache_key, Entry{p, tenant.status, gen, now, now, false, key->expires_at_ms});
  RETURN_IF_ERROR(CheckTenantStatus(tenant.status));
  return p;
}

Status Authenticator::CheckExpiry(const std::optional<int64_t>& expires_at_ms) const {
  if (!expires_at_ms || clock_->NowMillis() < *expires_at_ms) return Status::Ok();
  return BadCredentials("this API key expired at " + FormatRfc3339Millis(*expires_at_ms));
}

StatusOr<Principal> Authenticator::FromJwt(std::string_view token) {
  ASSIGN_OR_RETURN(JwtClaims claims, Verify(token, /*may_reload=*/true));
  std::string cache_key = "u:" + claims.sub;
  Entry e;
  if (!Lookup(cache_key, &e)) {
    uint64_t gen = generation_.load();
    auto user = store_->GetUser(claims.sub);
    if (!user.ok()) {
      if (user.status().code() == StatusCode::kNotFound) {
        return BadCredentials("the user of this token no longer exists");
      }
      return user.status();
    }
    ASSIGN_OR_RETURN(auto tenant, store_->GetTenant(user->tenant_id));
    e.principal.kind = Principal::Kind::kUser;
    e.principal.tenant_id = user->tenant_id;
    e.principal.user_id = user->id;
    e.principal.role = user->role;
    e.principal.permissions = user->status == "active" ? RolePermissions(user->role) : 0;
    e.tenant_status = tenant.status;
    e.generation = gen;
    e.cached_at_ms = e.touched_at_ms = clock_->NowMillis();
    Remember(cache_key, e);
  }
  if (e.principal.permissions == 0) return BadCredentials("this user has been deactivated");
  if (e.principal.tenant_id != claims.tid) return BadCredentials("token tenant mismatch");
  if (!claims.sid.empty()) {  // its login ended (logout, a reused refresh token): refused before it expires
    const std::string session_key = "s:" + claims.sid;
    Entry s;
    if (!Lookup(session_key, &s)) {
      s.generation = generation_.load();
      ASSIGN_OR_RETURN(s.revoked, store_->IsTokenFamilyRevoked(claims.sid));
      s.cached_at_ms = s.touched_at_ms = clock_->NowMillis();
      Remember(session_key, s);
    }
    if (s.revoked) return BadCredentials("this login has ended (signed out or its refresh token was reused)");
  }
  RETURN_IF_ERROR(CheckTenantStatus(e.tenant_status));
  return e.principal;
}

}  // namespace embedrec::auth
