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
  // Split the path once into views (no allocation for typical depths).
  constexpr size_t kMaxSegments = 16;
  std::string_view segs[kMaxSegments];
  size_t n = 0, start = 0;
  while (true) {
    size_t pos = path.find('/', start);
    if (n == kMaxSegments) return m;  // deeper than any route
    segs[n++] = path.substr(start, pos == std::string_view::npos ? pos : pos - start);
    if (pos == std::string_view::npos) break;
    start = pos + 1;
  }
  // For a 405, the methods of the most literal patterns matching the path
  // (/models/traffic's, not /models/{version}'s).
  size_t fewest_params = n + 1;
  for (const auto& r : routes_) {
    if (r.segments.size() != n) continue;
    bool ok = true;
    size_t params = 0;
    for (size_t i = 0; i < n && ok; ++i) {
      ok = IsParam(r.segments[i]) ? (++params, !segs[i].empty()) : r.segments[i] == segs[i];
    }
    if (!ok) continue;
    if (r.info.method == method || (method == "HEAD" && r.info.method == "GET")) {
      m.outcome = Outcome::kFound;
      m.route = &r;
      for (size_t i = 0; i < n; ++i) {
        if (IsParam(r.segments[i])) {
          m.params.Add(r.segments[i].substr(1, r.segments[i].size() - 2), DecodeSegment(segs[i]));
        }
      }
      return m;
    }
    m.outcome = Outcome::kMethodNotAllowed;
    if (params < fewest_params) {
      fewest_params = params;
      m.allowed.clear();
    }
    if (params == fewest_params) m.allowed.push_back(r.info.method);
  }
  return m;
}

}  // namespace embedrec::http
