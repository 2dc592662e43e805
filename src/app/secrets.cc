#include "app/secrets.h"

#include <fcntl.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "auth/api_key.h"
#include "auth/jwt.h"
#include "common/file_util.h"
#include "common/random.h"
#include "common/strings.h"

namespace embedrec::app {

namespace {
constexpr const char* kAdminHashKey = "admin_token_hash";
}

Status WritePrivateFile(const std::string& path, const std::string& content) {
  return WriteFileAtomically(path, content, 0600);
}

StatusOr<std::string> ResolveAdminTokenHash(store::ControlStore* control,
                                            const std::string& data_dir,
                                            const std::string& configured) {
  if (!configured.empty()) {
    if (configured.size() < 16) {
      return Status::InvalidArgument("EMBEDREC_ADMIN_TOKEN must be at least 16 characters");
    }
    std::string hash = auth::HashSecret(configured);
    RETURN_IF_ERROR(control->PutSetting(kAdminHashKey, hash));
    return hash;
  }
  ASSIGN_OR_RETURN(auto stored, control->GetSetting(kAdminHashKey));
  if (stored) return *stored;
  std::string token = "adm_" + RandomBase62(40);
  std::string hash = auth::HashSecret(token);
  // Another node sharing the store may be starting at once: the first
  // token stored is the platform's.
  ASSIGN_OR_RETURN(std::string stored_hash, control->PutSettingIfAbsent(kAdminHashKey, hash));
  if (stored_hash != hash) return stored_hash;
  std::string path = data_dir + "/admin-token";
  RETURN_IF_ERROR(WritePrivateFile(path, token + "\n"));
  spdlog::warn("generated the platform admin token (shown once; also in {}): {}", path, token);
  return hash;
}

namespace {
constexpr const char* kJwtKeysSetting = "jwt_keys";

// The secret of earlier versions, if any (it becomes the ring's first key).
StatusOr<std::optional<std::string>> LegacyJwtSecret(store::ControlStore* control, bool shared,
                                                     const std::string& data_dir) {
  if (shared) return control->GetSetting("jwt_secret");
  auto text = ReadWholeFile(data_dir + "/jwt-secret");
  if (!text.ok()) return std::optional<std::string>();
  std::string secret(Trim(*text));
  if (secret.size() < 32) return Status::FailedPrecondition(data_dir + "/jwt-secret holds a secret shorter than 32 characters");
  return std::optional<std::string>(secret);
}

Status StoreJwtKeys(store::ControlStore* control, bool shared, const std::string& data_dir,
                    const auth::JwtKeyRing& ring) {
  if (shared) return control->PutSetting(kJwtKeysSetting, ring.ToJson());
  return WritePrivateFile(data_dir + "/jwt-keys", ring.ToJson() + "\n");
}
}  // namespace

StatusOr<auth::JwtKeyRing> ReadJwtKeys(store::ControlStore* control, bool shared, const std::string& data_dir) {
  std::string text;
  if (shared) {
    ASSIGN_OR_RETURN(auto stored, control->GetSetting(kJwtKeysSetting));
    if (!stored) return Status::NotFound("no JWT keys stored");
    text = *stored;
  } else {
    auto file = ReadWholeFile(data_dir + "/jwt-keys");
    if (!file.ok()) return Status::NotFound("no JWT keys stored");
    text = std::move(file).value();
  }
  return auth::JwtKeyRing::FromJson(text);
}

StatusOr<auth::JwtKeyRing> ResolveJwtKeys(store::ControlStore* control, bool shared, const std::string& data_dir,
                                          const std::string& configured, const std::string& previous,
                                          int64_t now_s) {
  if (!configured.empty()) {
    if (configured.size() < 32) {
      return Status::InvalidArgument("EMBEDREC_JWT_SECRET must be at least 32 characters");
    }
    // Key ids from the secrets themselves: every node names them alike.
    auto kid = [](const std::string& secret) { return "c" + HexEncode(HmacSha256(secret, "kid")).substr(0, 10); };
    auth::JwtKeyRing ring = auth::JwtKeyRing::Single(kid(configured), configured, now_s);
    for (const auto& p : Split(previous, ',')) {
      std::string old(Trim(p));
      if (old.empty()) continue;
      if (old.size() < 32) return Status::InvalidArgument("EMBEDREC_JWT_PREVIOUS_SECRETS holds a secret shorter than 32 characters");
      ring = ring.WithRetired(kid(old), old, now_s);
    }
    return ring;
  }
  auto stored = ReadJwtKeys(control, shared, data_dir);
  if (stored.ok() || stored.status().code() != StatusCode::kNotFound) return stored;
  ASSIGN_OR_RETURN(auto legacy, LegacyJwtSecret(control, shared, data_dir));
  auth::JwtKeyRing ring =
      auth::JwtKeyRing::Single(legacy ? "k0" : auth::NewJwtKeyId(), legacy.value_or(Base64UrlEncode(RandomBytes(32))), now_s);
  if (shared) {
    // Another node may be starting at once: the first ring stored is the platform's.
    ASSIGN_OR_RETURN(std::string first, control->PutSettingIfAbsent(kJwtKeysSetting, ring.ToJson()));
    return auth::JwtKeyRing::FromJson(first);
  }
  RETURN_IF_ERROR(StoreJwtKeys(control, shared, data_dir, ring));
  return ring;
}

StatusOr<auth::JwtKeyRing> RotateJwtKeys(store::ControlStore* control, bool shared, const std::string& data_dir,
                                         int64_t now_s) {
  ASSIGN_OR_RETURN(auto ring, ReadJwtKeys(control, shared, data_dir));
  auth::JwtKeyRing rotated =
      ring.Rotated(auth::NewJwtKeyId(), Base64UrlEncode(RandomBytes(32)), now_s, auth::kAccessTokenTtlSeconds);
  RETURN_IF_ERROR(StoreJwtKeys(control, shared, data_dir, rotated));
  return rotated;
}

StatusOr<std::string> RotateAdminToken(store::ControlStore* control, const std::string& data_dir) {
  std::string token = "adm_" + RandomBase62(40);
  RETURN_IF_ERROR(control->PutSetting(kAdminHashKey, auth::HashSecret(token)));
  RETURN_IF_ERROR(WritePrivateFile(data_dir + "/admin-token", token + "\n"));
  return token;
}

StatusOr<std::optional<std::string>> StoredAdminTokenHash(store::ControlStore* control) {
  return control->GetSetting(kAdminHashKey);
}

}  // namespace embedrec::app
