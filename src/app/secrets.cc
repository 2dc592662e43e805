#include "app/secrets.h"

#include <fcntl.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

#include "auth/api_key.h"
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

StatusOr<std::string> ResolveJwtSecret(store::ControlStore* control, bool shared, const std::string& data_dir,
                                       const std::string& configured) {
  if (!configured.empty()) {
    if (configured.size() < 32) {
      return Status::InvalidArgument("EMBEDREC_JWT_SECRET must be at least 32 characters");
    }
    return configured;
  }
  if (shared) return control->PutSettingIfAbsent("jwt_secret", Base64UrlEncode(RandomBytes(32)));
  std::string path = data_dir + "/jwt-secret";
  std::ifstream in(path);
  if (in) {
    std::stringstream ss;
    ss << in.rdbuf();
    std::string secret(Trim(ss.str()));
    if (secret.size() >= 32) return secret;
    return Status::FailedPrecondition(path + " holds a secret shorter than 32 characters");
  }
  std::string secret = Base64UrlEncode(RandomBytes(32));
  RETURN_IF_ERROR(WritePrivateFile(path, secret + "\n"));
  return secret;
}

}  // namespace embedrec::app
