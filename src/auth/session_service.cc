#include "auth/session_service.h"

#include <spdlog/spdlog.h>

#include "auth/api_key.h"
#include "auth/authenticator.h"
#include "auth/jwt.h"
#include "auth/password.h"
#include "common/random.h"
#include "common/strings.h"

namespace embedrec::auth {

namespace {
Status InvalidLogin() {
  return Status::Unauthenticated("email or password is incorrect").WithReason("invalid_credentials");
}
Status InvalidRefresh(std::string msg) {
  return Status::Unauthenticated(std::move(msg)).WithReason("invalid_refresh_token");
}
}  // namespace

StatusOr<SessionTokens> SessionService::Login(const std::string& email,
                                              const std::string& password) {
  std::string key = AsciiLower(email);
  if (int64_t wait = throttle_->RetryAfterSeconds(key); wait > 0) {
    return Status::ResourceExhausted("too many failed logins; try again later",
                                     {{"retry_after_seconds", std::to_string(wait)}})
        .WithReason("login_throttled");
  }
  auto user = store_->GetUserByEmail(key);
  if (!user.ok() && user.status().code() != StatusCode::kNotFound) return user.status();
  bool ok;
  if (user.ok()) {
    ok = VerifyPassword(user->password_hash, password) && user->status == "active";
  } else {
    VerifyDummyPassword(password);  // same cost as a real check
    ok = false;
  }
  if (!ok) {
    throttle_->RecordFailure(key);
    return InvalidLogin();
  }
  throttle_->RecordSuccess(key);
  ASSIGN_OR_RETURN(auto tenant, store_->GetTenant(user->tenant_id));
  RETURN_IF_ERROR(Authenticator::CheckTenantStatus(tenant.status));
  user->last_login_at_ms = clock_->NowMillis();
  RETURN_IF_ERROR(store_->UpdateUser(*user));
  return Issue(*user, NewId("fam"));
}

StatusOr<SessionTokens> SessionService::Refresh(const std::string& refresh_token) {
  if (refresh_token.empty() || refresh_token.size() > 512) {
    return InvalidRefresh("refresh token is malformed");
  }
  auto rec = store_->ConsumeRefreshToken(HashSecret(refresh_token));
  if (!rec.ok()) {
    if (rec.status().code() == StatusCode::kNotFound) return InvalidRefresh("unknown refresh token");
    return rec.status();
  }
  if (rec->revoked) return InvalidRefresh("refresh token has been revoked");
  if (rec->used) {
    // Reuse of a rotated token: someone holds a copy. Revoke the whole family.
    spdlog::warn("refresh token reuse detected for user {}; revoking family {}", rec->user_id,
                 rec->family_id);
    RETURN_IF_ERROR(store_->RevokeTokenFamily(rec->family_id));
    if (options_.on_revoked) options_.on_revoked();  // its access tokens stop working too
    return InvalidRefresh("refresh token was already used; all sessions of this login are revoked");
  }
  if (clock_->NowMillis() >= rec->expires_at_ms) return InvalidRefresh("refresh token expired");
  auto user = store_->GetUser(rec->user_id);
  if (!user.ok() || user->status != "active") return InvalidRefresh("user is not active");
  ASSIGN_OR_RETURN(auto tenant, store_->GetTenant(user->tenant_id));
  RETURN_IF_ERROR(Authenticator::CheckTenantStatus(tenant.status));
  return Issue(*user, rec->family_id);
}

Status SessionService::Logout(const std::string& refresh_token) {
  auto rec = store_->ConsumeRefreshToken(HashSecret(refresh_token));
  if (!rec.ok()) {
    return rec.status().code() == StatusCode::kNotFound ? Status::Ok() : rec.status();
  }
  RETURN_IF_ERROR(store_->RevokeTokenFamily(rec->family_id));
  if (options_.on_revoked) options_.on_revoked();  // its access tokens stop working too
  return Status::Ok();
}

StatusOr<SessionTokens> SessionService::Issue(const store::UserRecord& user,
                                              const std::string& family_id) {
  int64_t now_ms = clock_->NowMillis();
  JwtClaims claims{user.id,      user.tenant_id,
                   user.role,    NewId("jti"),
                   now_ms / 1000, now_ms / 1000 + kAccessTokenTtlSeconds,
                   family_id};
  SessionTokens out;
  if (options_.reload_jwt_keys && keys_reload_.Take(now_ms)) options_.reload_jwt_keys();
  const auto ring = options_.jwt_keys->Get();
  out.access_token = SignJwt(claims, ring->current().secret, ring->current().kid);
  out.refresh_token = GenerateRefreshToken();
  out.expires_in = kAccessTokenTtlSeconds;
  out.user = user;
  RETURN_IF_ERROR(store_->CreateRefreshToken(
      {HashSecret(out.refresh_token), family_id, user.id, now_ms,
       now_ms + options_.refresh_ttl_seconds * 1000, false, false}));
  return out;
}

}  // namespace embedrec::auth
