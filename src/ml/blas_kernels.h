// OpenBLAS's kernels for this CPU.
//
// Debian's OpenBLAS (0.3.21, DYNAMIC_ARCH) chooses its kernels by the CPU's
// model number when it is loaded. A CPU newer than the library (measured: a
// Sapphire Rapids Xeon under a VM, model 207, AVX-512) gets the generic
// Prescott kernels (SSE3): EASE's solve ran 3.5-4x slower, and with it the
// evaluations, ALS's and the sampled softmax's products and FAISS.
// OPENBLAS_CORETYPE chooses them instead, but only before the library is
// loaded, i.e. before main().
#pragma once

#include <string>

namespace embedrec::ml {

// The kernels OpenBLAS uses ("SkylakeX", "Haswell", "Prescott", ...).
std::string BlasCoreName();

// When OpenBLAS took kernels older than what this CPU runs (AVX2 + FMA, or
// AVX-512): the OPENBLAS_CORETYPE that chooses this CPU's ("SkylakeX",
// "Haswell"); null otherwise. Set before the program starts again
// (ml/library_env.h).
const char* BlasKernelsToChoose();

}  // namespace embedrec::ml
