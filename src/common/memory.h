// Memory: what the process has freed, given back to the system; what a
// cache holds, estimated.
#pragma once

#include <cstdint>
#include <string>

namespace embedrec {

// Under jemalloc (the server binary), purges every arena's unused pages at
// once: jemalloc otherwise keeps them until the same arena allocates again,
// which an idle server does not (docs/benchmarks.md: 420 MB kept after 999
// of 1,000 tenants had gone idle). Elsewhere (tests, another allocator) it
// does nothing. Costs about the pages it returns; call it when a lot was
// just freed, not per request.
void ReturnFreedMemory();

// The process's memory as the allocator and the kernel see it, for /metrics:
// -1 where not known (the allocator's figures need jemalloc).
struct MemoryStats {
  int64_t heap_allocated = -1;  // bytes of live allocations
  int64_t heap_resident = -1;   // bytes of the allocator's pages in memory (live, free and its own)
  int64_t process_resident = -1;  // the process's RSS
};
MemoryStats ReadMemoryStats();

// The heap bytes a string holds beyond the object itself (none while its
// characters fit inside it: libstdc++ keeps up to 15 there). For estimates
// of what a cache holds.
inline int64_t HeapBytes(const std::string& s) {
  return s.capacity() > 15 ? static_cast<int64_t>(s.capacity()) + 1 : 0;
}

}  // namespace embedrec
