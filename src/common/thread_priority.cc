#include "common/thread_priority.h"

#include <pthread.h>
#include <sched.h>
#include <sys/resource.h>
#include <unistd.h>

#include <charconv>

namespace embedrec {

bool NiceThisThread(int nice) {
  return setpriority(PRIO_PROCESS, static_cast<id_t>(::gettid()), nice) == 0;
}

bool IdleThisThread() {
  sched_param param{};
  param.sched_priority = 0;
  return pthread_setschedparam(pthread_self(), SCHED_IDLE, &param) == 0;
}

std::optional<BackgroundPriority> ParseBackgroundPriority(std::string_view text) {
  if (text == "idle") return BackgroundPriority{};
  int nice = -1;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), nice);
  if (ec != std::errc() || end != text.data() + text.size() || nice < 0 || nice > 19) return std::nullopt;
  return BackgroundPriority{.idle = false, .nice = nice};
}

bool ApplyToThisThread(const BackgroundPriority& p) {
  if (p.idle) return IdleThisThread();
  return p.nice == 0 || NiceThisThread(p.nice);
}

}  // namespace embedrec
