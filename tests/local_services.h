// The scale-out servers the unit tests run against (PostgreSQL, an S3
// endpoint), started once per ctest run by scripts/local-services: ctest's
// fixture sets EMBEDREC_TEST_SERVICES to the env file it wrote. A suite run
// by hand without it skips those backends (ctest always has them).
#pragma once

#include <cstdlib>
#include <fstream>
#include <map>
#include <optional>
#include <string>

namespace embedrec::testing {

// The value `name` from the services' env file; nullopt when the services
// were not started.
inline std::optional<std::string> LocalService(const std::string& name) {
  static const std::map<std::string, std::string> env = [] {
    std::map<std::string, std::string> m;
    const char* path = std::getenv("EMBEDREC_TEST_SERVICES");
    if (!path) return m;
    std::ifstream in(path);
    std::string line;
    while (std::getline(in, line)) {
      size_t eq = line.find('=');
      if (eq != std::string::npos) m[line.substr(0, eq)] = line.substr(eq + 1);
    }
    return m;
  }();
  auto it = env.find(name);
  if (it == env.end()) return std::nullopt;
  return it->second;
}

}  // namespace embedrec::testing
