// The one place that wires the platform together: picks the backends
// (embedded: SQLite + local files), builds the services and the route table,
// and runs the HTTP server on the configured ports.
#pragma once

#include <memory>
#include <vector>

#include "app/config.h"
#include "common/status.h"

namespace embedrec::app {

class Platform {
 public:
  // Opens the stores under config.data_dir (creating them), resolves secrets
  // and starts serving.
  static StatusOr<std::unique_ptr<Platform>> Start(const ServeConfig& config);
  virtual ~Platform() = default;
  // Bound ports, in the order gateway, ml, pipeline of the roles served.
  virtual std::vector<int> ports() const = 0;
  // Graceful stop: no new connections, in-flight requests finish within the
  // grace period, then stores close. Idempotent.
  virtual void Shutdown() = 0;
};

}  // namespace embedrec::app
