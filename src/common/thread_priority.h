// Lowering the calling thread's CPU priority, for background work that must
// yield to requests (the slow lane, the recommendation log's writer, training).
#pragma once

namespace embedrec {

// Sets the calling thread's niceness (Linux: per thread; > 0 yields the CPU
// to the process's other threads). False when the system refused.
bool NiceThisThread(int nice);

}  // namespace embedrec
