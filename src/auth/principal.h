// Who is calling and what they may do: scopes (API keys), roles (users) and
// the platform administrator, reduced to one permission bitmask.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"

namespace embedrec::auth {

// Permissions. The first six are the API-key scopes customers grant.
enum Permission : uint32_t {
  kRecommendationsRead = 1u << 0,  // "recommendations:read"
  kInteractionsWrite = 1u << 1,    // "interactions:write"
  kDataWrite = 1u << 2,            // "data:write"
  kModelsTrain = 1u << 3,          // "models:train"
  kModelsRead = 1u << 4,           // "models:read"
  kAnalyticsRead = 1u << 5,        // "analytics:read"
  kManageUsers = 1u << 6,          // tenant admins only
  kManageKeys = 1u << 7,           // tenant admins only
  kPlatformAdmin = 1u << 8,        // the platform administrator only
};
inline constexpr uint32_t kAllScopes = (1u << 6) - 1;

// The scope names in bit order.
const std::vector<std::string_view>& ScopeNames();
// The bit of a scope name; nullopt for an unknown name.
std::optional<uint32_t> ParseScope(std::string_view name);
// Name of a single permission bit ("recommendations:read", "users:manage", ...).
std::string_view PermissionName(uint32_t bit);

// Roles of tenant users: admin (everything in the tenant), member (everything
// but users and keys), viewer (read-only).
bool IsValidRole(std::string_view role);
uint32_t RolePermissions(std::string_view role);

struct Principal {
  enum class Kind { kPlatformAdmin, kUser, kApiKey };
  Kind kind = Kind::kApiKey;
  std::string tenant_id;  // empty for the platform admin
  std::string user_id;    // kUser
  std::string key_id;     // kApiKey
  std::string role;       // kUser
  uint32_t permissions = 0;
  bool publishable = false;  // kApiKey: a publishable key (auth/api_key.h)

  bool Has(uint32_t perm) const { return (permissions & perm) == perm; }
  // kPermissionDenied naming the missing permission.
  Status Require(uint32_t perm) const;
  // The tenant a request acts on. `requested` is a tenant id named in the
  // body, path or query (empty: none). Tenant principals act on their own
  // tenant only (another id → kPermissionDenied); the platform admin acts on
  // the requested tenant and must name one (kInvalidArgument otherwise).
  StatusOr<std::string> ResolveTenant(std::string_view requested) const;
  // "user usr_x", "api key key_y", "platform admin": for logs.
  std::string Describe() const;
};

}  // namespace embedrec::auth
