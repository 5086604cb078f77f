#include "hal/futex.hpp"

#include <linux/futex.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <ctime>

namespace hal {

static_assert(sizeof(std::atomic<std::uint32_t>) == sizeof(std::uint32_t) &&
                  std::atomic<std::uint32_t>::is_always_lock_free,
              "the futex word must be a plain 32-bit integer");

namespace {
long futex(std::atomic<std::uint32_t>& word, int op, std::uint32_t val) noexcept {
  // The kernel reads the word's address as a u32; atomic<uint32_t> is exactly that.
  return syscall(SYS_futex, reinterpret_cast<std::uint32_t*>(&word), op, val, nullptr, nullptr, 0);
}
}  // namespace

Status futex_wait(std::atomic<std::uint32_t>& word, std::uint32_t expected) noexcept {
  if (futex(word, FUTEX_WAIT_PRIVATE, expected) == 0) return {};
  // EAGAIN: the word had already changed; EINTR: a signal. Both mean "look again".
  if (errno == EAGAIN || errno == EINTR) return {};
  return errno_status("futex(FUTEX_WAIT)");
}

Status futex_wait_until(std::atomic<std::uint32_t>& word, std::uint32_t expected, std::int64_t until) noexcept {
  if (until < 0) until = 0;
  timespec ts{static_cast<time_t>(until / 1'000'000'000), static_cast<long>(until % 1'000'000'000)};
  if (syscall(SYS_futex, reinterpret_cast<std::uint32_t*>(&word), FUTEX_WAIT_BITSET_PRIVATE, expected, &ts, nullptr,
              FUTEX_BITSET_MATCH_ANY) == 0)
    return {};
  if (errno == EAGAIN || errno == EINTR || errno == ETIMEDOUT) return {};
  return errno_status("futex(FUTEX_WAIT_BITSET)");
}

Status futex_wake(std::atomic<std::uint32_t>& word, int count) noexcept {
  if (futex(word, FUTEX_WAKE_PRIVATE, static_cast<std::uint32_t>(count)) < 0) return errno_status("futex(FUTEX_WAKE)");
  return {};
}

}  // namespace hal
