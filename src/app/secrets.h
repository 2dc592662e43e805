// The platform's own secrets: the admin token and the JWT signing secret.
#pragma once

#include <string>

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

// The JWT secret: `configured` when set, else `data_dir`/jwt-secret, created
// with 256 random bits (mode 0600) on first start. With a control store
// shared by several nodes (`shared`), it is kept in the store instead (the
// first node to start makes it), so a token issued by one node is accepted
// by all.
StatusOr<std::string> ResolveJwtSecret(store::ControlStore* control, bool shared, const std::string& data_dir,
                                       const std::string& configured);

// Writes `content` to `path` atomically with mode 0600.
Status WritePrivateFile(const std::string& path, const std::string& content);

}  // namespace embedrec::app
