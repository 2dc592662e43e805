#include "common/memory.h"

#include <dlfcn.h>

#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>

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

MemoryStats ReadMemoryStats() {
  MemoryStats m;
  if (Mallctl fn = FindMallctl()) {
    uint64_t epoch = 1;  // jemalloc's statistics are a snapshot taken when the epoch advances
    size_t len = sizeof epoch;
    if (fn("epoch", &epoch, &len, &epoch, len) == 0) {
      size_t v = 0;
      len = sizeof v;
      if (fn("stats.allocated", &v, &len, nullptr, 0) == 0) m.heap_allocated = static_cast<int64_t>(v);
      len = sizeof v;
      if (fn("stats.resident", &v, &len, nullptr, 0) == 0) m.heap_resident = static_cast<int64_t>(v);
    }
  }
  if (FILE* f = std::fopen("/proc/self/statm", "r")) {
    long size = 0, resident = 0;
    if (std::fscanf(f, "%ld %ld", &size, &resident) == 2) m.process_resident = resident * sysconf(_SC_PAGESIZE);
    std::fclose(f);
  }
  return m;
}

}  // namespace embedrec
