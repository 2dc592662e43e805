#include "http/router.h"

#include <cstdio>
#include <cstdlib>

#include "common/strings.h"

namespace embedrec::http {

std::string_view RoleName(Role r) {
  switch (r) {
    case Role::kSystem: return "system";
    case Role::kGateway: return "gateway";
    case Role::kMlEngine: return "ml";
    case Role::kDataPipeline: return "pipeline";
  }
  return "unknown";
}

const std::string& PathParams::Get(std::string_view name) const {
  for (const auto& [k, v] : v_) {
    if (k == name) return v;
  }
  std::fprintf(stderr, "route has no path parameter '%.*s'\n", int(name.size()), name.data());
  std::abort();
}

namespace {
bool IsParam(const std::string& seg) {
  return seg.size() > 2 && seg.front() == '{' && seg.back() == '}';
}
}  // namespace

void Router::Add(RouteInfo info, Handler handler) {
  for (const auto& r : routes_) {
    if (r.info.method == info.method && r.info.pattern == info.pattern) {
      std::fprintf(stderr, "duplicate route %s %s\n", info.method.c_str(), info.pattern.c_str());
      std::abort();
    }
  }
  Route r;
  for (auto s : Split(info.pattern, '/')) r.segments.emplace_back(s);
  r.info = std::move(info);
  r.handler = std::move(handler);
  routes_.push_back(std::move(r));
}

Router::Match Router::Find(std::string_view method, std::string_view path) const {
  Match m;
  auto segs = Split(path, '/');
  for (const auto& r : routes_) {
    if (r.segments.size() != segs.size()) continue;
    PathParams params;
    bool ok = true;
    for (size_t i = 0; i < segs.size() && ok; ++i) {
      if (IsParam(r.segments[i])) {
        if (segs[i].empty()) ok = false;
        else params.Add(r.segments[i].substr(1, r.segments[i].size() - 2), std::string(segs[i]));
      } else {
        ok = r.segments[i] == segs[i];
      }
    }
    if (!ok) continue;
    if (r.info.method == method || (method == "HEAD" && r.info.method == "GET")) {
      m.outcome = Outcome::kFound;
      m.route = &r;
      m.params = std::move(params);
      return m;
    }
    m.outcome = Outcome::kMethodNotAllowed;
    m.allowed.push_back(r.info.method);
  }
  return m;
}

}  // namespace embedrec::http
