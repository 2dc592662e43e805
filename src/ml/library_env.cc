#include "ml/library_env.h"

#include <unistd.h>

#include <cstdlib>
#include <string>
#include <vector>

#include "ml/blas_kernels.h"

namespace embedrec::ml {

void SetLibraryEnvironment(char** argv, bool server) {
  std::vector<std::string> set;  // the names set here (undone when the exec fails)
  if (std::getenv("OPENBLAS_CORETYPE") == nullptr) {
    if (const char* kernels = BlasKernelsToChoose(); kernels && setenv("OPENBLAS_CORETYPE", kernels, 1) == 0) {
      set.emplace_back("OPENBLAS_CORETYPE");
    }
  }
  if (server && std::getenv("GOMP_SPINCOUNT") == nullptr && std::getenv("OMP_WAIT_POLICY") == nullptr &&
      setenv("GOMP_SPINCOUNT", kOpenMpSpinCount, 1) == 0) {
    set.emplace_back("GOMP_SPINCOUNT");
  }
  if (set.empty()) return;
  execv("/proc/self/exe", argv);
  for (const auto& name : set) unsetenv(name.c_str());  // the exec failed: go on with what was loaded
}

}  // namespace embedrec::ml
