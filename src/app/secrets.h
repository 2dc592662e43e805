// The platform's own secrets: the admin token and the keys signing access
// tokens; where they are kept, and their rotation.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "auth/jwt_keys.h"
#include "common/status.h"
#include "store/control_store.h"

namespace embedrec::app {

// The hash of the platform admin token. `configured` (EMBEDREC_ADMIN_TOKEN)
// wins and its hash is stored. Otherwise the stored hash is used; on the very
// first start a token is generated, logged once and written to
// `data_dir`/admin-token (mode 0600). Only the hash is ever stored.
StatusOr<std::string> ResolveAdminTokenHash(store::ControlStore* control,
                                            const std::string& data_dir,
                                            const std::string& configured);

// The keys of access tokens (auth/jwt_keys.h). With `configured`
// (EMBEDREC_JWT_SECRET): one key made of it, with `previous` (comma-
// separated, EMBEDREC_JWT_PREVIOUS_SECRETS) verifying only. Otherwise the
// stored ring: in the control store when it is shared by several nodes
// (the first node to start makes it), else in `data_dir`/jwt-keys (mode
// 0600); made on first start from the secret of earlier versions
// (`data_dir`/jwt-secret, or the store's) when there is one, so tokens
// issued before and /metrics aliases stay valid.
StatusOr<auth::JwtKeyRing> ResolveJwtKeys(store::ControlStore* control, bool shared, const std::string& data_dir,
                                          const std::string& configured, const std::string& previous,
                                          int64_t now_s);
// The stored ring, read again (another node may have rotated it).
StatusOr<auth::JwtKeyRing> ReadJwtKeys(store::ControlStore* control, bool shared, const std::string& data_dir);
// A new current key, stored; the replaced one verifies for an access
// token's lifetime, older ones are dropped.
StatusOr<auth::JwtKeyRing> RotateJwtKeys(store::ControlStore* control, bool shared, const std::string& data_dir,
                                         int64_t now_s);

// A new platform admin token: its hash stored (the old token is refused
// from now on) and the token written to `data_dir`/admin-token (0600).
// Returns the token (shown once).
StatusOr<std::string> RotateAdminToken(store::ControlStore* control, const std::string& data_dir);
// The stored hash of the admin token (another node may have rotated it).
StatusOr<std::optional<std::string>> StoredAdminTokenHash(store::ControlStore* control);

// Writes `content` to `path` atomically with mode 0600.
Status WritePrivateFile(const std::string& path, const std::string& content);

}  // namespace embedrec::app
