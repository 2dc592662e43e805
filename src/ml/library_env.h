// Settings the numeric libraries read only when they are loaded, before
// main(): set here, then this program executed again once with them.
//
//   * OPENBLAS_CORETYPE: OpenBLAS's kernels for this CPU (ml/blas_kernels.h).
//   * GOMP_SPINCOUNT: how long an OpenMP thread spins at a barrier before it
//     sleeps. libgomp's default spins ~300,000 turns. A training job at idle
//     priority on a busy server has the threads of its team preempted for
//     milliseconds at a time, and at every barrier the others spun that long
//     for nothing: measured (docs/benchmarks.md, "OpenMP's spin"), a
//     5-epoch LightGCN job under a saturating load took 143 s and 20.6 CPU-s
//     with the default, 92 s and 9.4 CPU-s at kOpenMpSpinCount; an idle
//     machine's epochs are the same at either count.
//
// A value the environment gives (GOMP_SPINCOUNT, or OMP_WAIT_POLICY, which
// sets its own) is kept.
#pragma once

namespace embedrec::ml {

inline constexpr const char* kOpenMpSpinCount = "10000";

// Sets what is missing and executes this program again with the same
// arguments (/proc/self/exe), which does not return; returns, changing
// nothing, when nothing is missing (or the exec fails). Call first thing in
// main(), before any thread starts.
void SetLibraryEnvironment(char** argv);

}  // namespace embedrec::ml
