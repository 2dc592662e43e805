// Where serving's periodic re-reads run (an expired catalog, popularity
// rebuilt from the store): bg(tenant_id, task) runs the task later on
// another thread, so that no request waits for a re-read. The wiring
// (app/) posts to the slow lane; without one, the request that finds the
// state expired re-reads it itself (tests, tools).
#pragma once

#include <functional>
#include <string>

namespace embedrec::serving {

using Background = std::function<void(const std::string& tenant_id, std::function<void()> task)>;

}  // namespace embedrec::serving
