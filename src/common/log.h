// Process-wide logging set-up. Code logs with spdlog's free functions
// (spdlog::info(...)); this only chooses level and format once at start.
#pragma once

#include <string>

#include "common/status.h"

namespace embedrec {

// level: trace | debug | info | warn | error | off. format: text | json.
// JSON lines are {"ts","level","msg"} objects, one per line, on stderr.
Status InitLogging(const std::string& level, const std::string& format);

}  // namespace embedrec
