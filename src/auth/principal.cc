#include "auth/principal.h"

namespace embedrec::auth {

const std::vector<std::string_view>& ScopeNames() {
  static const std::vector<std::string_view> kNames = {
      "recommendations:read", "interactions:write", "data:write",
      "models:train",         "models:read",        "analytics:read"};
  return kNames;
}

std::optional<uint32_t> ParseScope(std::string_view name) {
  const auto& names = ScopeNames();
  for (size_t i = 0; i < names.size(); ++i) {
    if (names[i] == name) return 1u << i;
  }
  return std::nullopt;
}

std::string_view PermissionName(uint32_t bit) {
  const auto& names = ScopeNames();
  for (size_t i = 0; i < names.size(); ++i) {
    if (bit == (1u << i)) return names[i];
  }
  if (bit == kManageUsers) return "users:manage";
  if (bit == kManageKeys) return "api_keys:manage";
  if (bit == kPlatformAdmin) return "platform:admin";
  return "unknown";
}

bool IsValidRole(std::string_view role) {
  return role == "admin" || role == "member" || role == "viewer";
}

uint32_t RolePermissions(std::string_view role) {
  if (role == "admin") return kAllScopes | kManageUsers | kManageKeys;
  if (role == "member") return kAllScopes;
  if (role == "viewer") return kRecommendationsRead | kModelsRead | kAnalyticsRead;
  return 0;
}

Status Principal::Require(uint32_t perm) const {
  if (Has(perm)) return Status::Ok();
  std::string missing;
  for (uint32_t bit = 1; bit <= kPlatformAdmin; bit <<= 1) {
    if ((perm & bit) && !(permissions & bit)) {
      if (!missing.empty()) missing += ", ";
      missing += PermissionName(bit);
    }
  }
  std::string who = kind == Kind::kApiKey ? "this API key" : kind == Kind::kUser
                                                                 ? "role '" + role + "'"
                                                                 : "this caller";
  return Status(StatusCode::kPermissionDenied, who + " lacks the permission " + missing,
                "insufficient_scope", {{"required", missing}});
}

StatusOr<std::string> Principal::ResolveTenant(std::string_view requested) const {
  if (kind == Kind::kPlatformAdmin) {
    if (requested.empty()) {
      return Status::InvalidArgument("the platform admin must name a tenant_id",
                                     {{"field", "tenant_id"}});
    }
    return std::string(requested);
  }
  if (!requested.empty() && requested != tenant_id) {
    return Status(StatusCode::kPermissionDenied, "credentials do not belong to that tenant",
                  "tenant_mismatch");
  }
  return tenant_id;
}

std::string Principal::Describe() const {
  switch (kind) {
    case Kind::kPlatformAdmin: return "platform admin";
    case Kind::kUser: return "user " + user_id;
    case Kind::kApiKey: return "api key " + key_id;
  }
  return "unknown";
}

}  // namespace embedrec::auth
