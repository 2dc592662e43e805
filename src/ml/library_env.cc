#include "ml/library_env.h"

#include <sys/prctl.h>
#include <unistd.h>

#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "ml/blas_kernels.h"

namespace embedrec::ml {
namespace {

// A program executed through /proc/self/exe is named "exe" by the kernel
// (its comm, what ps, top and pkill show): named again after argv[0].
void KeepProgramName(char** argv) {
  char comm[17] = {};
  if (argv[0] == nullptr || prctl(PR_GET_NAME, comm) != 0 || std::string_view(comm) != "exe") return;
  std::string_view name(argv[0]);
  if (const size_t slash = name.rfind('/'); slash != std::string_view::npos) name.remove_prefix(slash + 1);
  if (!name.empty()) (void)prctl(PR_SET_NAME, std::string(name.substr(0, 15)).c_str());
}

}  // namespace

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
  if (set.empty()) {
    KeepProgramName(argv);
    return;
  }
  execv("/proc/self/exe", argv);
  for (const auto& name : set) unsetenv(name.c_str());  // the exec failed: go on with what was loaded
}

}  // namespace embedrec::ml
