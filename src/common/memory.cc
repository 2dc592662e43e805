#include "common/memory.h"

#include <dlfcn.h>

#include <cstddef>

namespace embedrec {
namespace {

using Mallctl = int (*)(const char*, void*, size_t*, void*, size_t);

// jemalloc's control interface when the process runs on jemalloc (looked up
// at run time: the server binary links it, the tests do not).
Mallctl FindMallctl() {
  static const Mallctl fn = reinterpret_cast<Mallctl>(dlsym(RTLD_DEFAULT, "mallctl"));
  return fn;
}

}  // namespace

void ReturnFreedMemory() {
  constexpr const char* kPurgeAllArenas = "arena.4096.purge";  // 4096: MALLCTL_ARENAS_ALL
  if (Mallctl fn = FindMallctl()) (void)fn(kPurgeAllArenas, nullptr, nullptr, nullptr, 0);
}

}  // namespace embedrec
