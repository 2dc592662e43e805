#include "common/clock.h"

#include <chrono>

namespace embedrec {
namespace {
class SystemClock final : public Clock {
 public:
  int64_t NowMillis() const override {
    using namespace std::chrono;
    return duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count();
  }
};
}  // namespace

Clock* RealClock() {
  static SystemClock clock;
  return &clock;
}

}  // namespace embedrec
