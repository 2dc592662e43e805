// Another thread's stack, taken while it runs: what a watchdog shows of a
// thread that stopped making progress (common/watchdog.h).
//
// The thread is sent a real-time signal whose handler records its return
// addresses (glibc's backtrace, warmed up when the handler is installed so
// that it allocates nothing there); the caller waits a bounded time for them.
// One capture at a time per process. A thread blocked in a system call runs
// the handler and goes back to its call (SA_RESTART).
//
// Thread safety: safe for concurrent use (captures are serialised).
#pragma once

#include <pthread.h>

#include <chrono>
#include <string>
#include <vector>

namespace embedrec {

// The return addresses of `thread`'s stack, innermost first, without the
// signal handler's own frames; empty when it did not answer within `wait`.
std::vector<void*> StackOf(pthread_t thread, std::chrono::milliseconds wait);

// One frame per line, "  #n module+0xoffset (function+0xoffset)": the
// function from the library's exported names, or for the program's own
// frames from its symbol table (read once, on the first call); the module's
// offset is what `addr2line -Cfe <module>` reads for a file and line.
std::string DescribeStack(const std::vector<void*>& frames);

}  // namespace embedrec
