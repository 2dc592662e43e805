// EMBEDREC_CPU_CLONES before a hot kernel: compiled for AVX2+FMA and for any
// x86-64, the version picked at load time (GCC's target_clones). Clang (the
// fuzz build, tests/fuzz) cannot clone templates: one baseline version there.
#pragma once

#if defined(__clang__)
#define EMBEDREC_CPU_CLONES
#else
#define EMBEDREC_CPU_CLONES __attribute__((target_clones("arch=x86-64-v3", "default")))
#endif
