// Lowering the calling thread's CPU priority, for background work that must
// yield to requests (the slow lane, the recommendation log's writer, training).
#pragma once

#include <optional>
#include <string_view>

namespace embedrec {

// Sets the calling thread's niceness (Linux: per thread; > 0 yields the CPU
// to the process's other threads). False when the system refused.
bool NiceThisThread(int nice);

// Runs the calling thread, and the threads it starts from now on, only when
// no other thread wants the core (Linux SCHED_IDLE: a woken request thread
// takes the core at once, and a core running only such threads counts as
// free when the kernel places one). Under a load that never leaves a core
// free, the thread waits. False when the system refused. One-way for a
// thread without CAP_SYS_NICE.
bool IdleThisThread();

// A background thread's priority as configured: "idle" (IdleThisThread) or a
// niceness 0-19.
struct BackgroundPriority {
  bool idle = true;
  int nice = 0;
};
std::optional<BackgroundPriority> ParseBackgroundPriority(std::string_view text);
// Applies it to the calling thread; false when the system refused.
bool ApplyToThisThread(const BackgroundPriority& p);

}  // namespace embedrec
