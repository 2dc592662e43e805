#include "ml/blas_kernels.h"

#include <algorithm>
#include <cctype>
#include <string_view>

extern "C" char* openblas_get_corename(void);

namespace embedrec::ml {

namespace {
// OpenBLAS core names that use neither AVX2 nor AVX-512 (what it falls back
// to on a CPU it does not know, and the older CPUs' own).
bool Generic(std::string name) {
  std::transform(name.begin(), name.end(), name.begin(), [](unsigned char c) { return std::tolower(c); });
  constexpr std::string_view kOld[] = {"prescott", "core2",    "penryn",   "dunnington", "nehalem",
                                       "sandybridge", "atom",  "katmai",   "coppermine", "northwood",
                                       "banias",   "barcelona", "opteron", "opteron_sse3", "bobcat",
                                       "bulldozer", "piledriver", "steamroller", "excavator", "unknown"};
  return name.empty() || std::find(std::begin(kOld), std::end(kOld), name) != std::end(kOld);
}

// The best kernels this OpenBLAS has for what the CPU (and the OS) supports.
const char* Best() {
  __builtin_cpu_init();
  if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
      __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512dq") &&
      __builtin_cpu_supports("avx512cd")) {
    return "SkylakeX";
  }
  if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) return "Haswell";
  return nullptr;
}
}  // namespace

std::string BlasCoreName() {
  const char* name = openblas_get_corename();
  return name ? name : "";
}

const char* BlasKernelsToChoose() {
  const char* best = Best();
  return best != nullptr && Generic(BlasCoreName()) ? best : nullptr;
}

}  // namespace embedrec::ml
