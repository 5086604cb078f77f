#include "hal/fence.hpp"

#include <linux/membarrier.h>
#include <sys/syscall.h>
#include <unistd.h>

namespace hal {

namespace {
long membarrier(int cmd) noexcept { return syscall(__NR_membarrier, cmd, 0U, 0); }
}  // namespace

Status enable_asymmetric_fence() noexcept {
  const long cmds = membarrier(MEMBARRIER_CMD_QUERY);
  if (cmds < 0) return errno_status("membarrier(QUERY)");
  if ((cmds & MEMBARRIER_CMD_PRIVATE_EXPEDITED) == 0) return Status{ENOSYS, "membarrier(PRIVATE_EXPEDITED)"};
  if (membarrier(MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED) != 0)
    return errno_status("membarrier(REGISTER_PRIVATE_EXPEDITED)");
  return {};
}

Status heavy_fence() noexcept {
  if (membarrier(MEMBARRIER_CMD_PRIVATE_EXPEDITED) != 0) return errno_status("membarrier(PRIVATE_EXPEDITED)");
  return {};
}

}  // namespace hal
