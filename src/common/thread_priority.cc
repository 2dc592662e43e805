#include "common/thread_priority.h"

#include <sys/resource.h>
#include <unistd.h>

namespace embedrec {

bool NiceThisThread(int nice) {
  return setpriority(PRIO_PROCESS, static_cast<id_t>(::gettid()), nice) == 0;
}

}  // namespace embedrec
