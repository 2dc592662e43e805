// Memory the process has freed, given back to the system.
#pragma once

namespace embedrec {

// Under jemalloc (the server binary), purges every arena's unused pages at
// once: jemalloc otherwise keeps them until the same arena allocates again,
// which an idle server does not (docs/benchmarks.md: 420 MB kept after 999
// of 1,000 tenants had gone idle). Elsewhere (tests, another allocator) it
// does nothing. Costs about the pages it returns; call it when a lot was
// just freed, not per request.
void ReturnFreedMemory();

}  // namespace embedrec
