// Settings the numeric libraries read only when they are loaded, before
// main(): set here, then this program executed again once with them.
//
//   * OPENBLAS_CORETYPE: OpenBLAS's kernels for this CPU (ml/blas_kernels.h).
//   * GOMP_SPINCOUNT, for the server only: how long an OpenMP thread spins
//     at a barrier before it sleeps. libgomp's default spins ~300,000 turns.
//     A training job at idle priority on a busy server has the threads of
//     its team preempted for milliseconds at a time, and at every barrier the
//     others spun that long for nothing: measured (docs/benchmarks.md,
//     "OpenMP's spin"), a 20-epoch LightGCN job under a saturating load took
//     584 s with the default and 348 s at kOpenMpSpinCount, on about a third
//     of the CPU time (four interleaved soaks: 583 and 586 s against 194 and
//     402 s, requests served beside either within the runs' spread). On an
//     idle machine the 1.5M shop's epochs are the same at either count, the
//     15M shop's 4-6 % longer: the offline trainer
//     (`embedrec train`), which runs alone, keeps libgomp's default. Where
//     the environment set neither, the server starts twice (~10 ms more).
//
// A value the environment gives (GOMP_SPINCOUNT, or OMP_WAIT_POLICY, which
// sets its own) is kept.
#pragma once

namespace embedrec::ml {

inline constexpr const char* kOpenMpSpinCount = "10000";

// Sets what is missing (the spin when `server`) and executes this program
// again with the same arguments (/proc/self/exe), which does not return;
// returns, changing nothing, when nothing is missing (or the exec fails).
// The program executed again keeps its name (argv[0]'s, not "exe").
// Call first thing in main(), before any thread starts.
void SetLibraryEnvironment(char** argv, bool server);

}  // namespace embedrec::ml
