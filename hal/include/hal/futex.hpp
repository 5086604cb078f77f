#pragma once
// The kernel's futex on a 32-bit atomic: the floor under any blocking wait, used where a
// thread must sleep without a lock (idle workers). Not std::atomic::wait: libstdc++
// keeps waiter bookkeeping in a global table, which an RT submit path should not touch.
#include <atomic>
#include <cstdint>

#include "hal/annotations.hpp"
#include "hal/status.hpp"

namespace hal {

// Sleeps while `word` holds `expected` (returns at once otherwise), until futex_wake.
// Spurious returns happen; callers re-check. RT: no allocation; one blocking syscall.
Status futex_wait(std::atomic<std::uint32_t>& word, std::uint32_t expected) noexcept HAL_BLOCKING;

// As futex_wait, but returns no later than the absolute CLOCK_MONOTONIC time `until`
// (FUTEX_WAIT_BITSET takes an absolute time; the hrtimer behind it is the one
// clock_nanosleep uses, so a worker that sleeps for a release wakes as precisely as a
// clock_nanosleep loop while still waking at once for new work).
// RT: no allocation; one blocking syscall.
Status futex_wait_until(std::atomic<std::uint32_t>& word, std::uint32_t expected,
                        std::int64_t until) noexcept HAL_BLOCKING;

// Wakes up to `count` threads sleeping on `word`. RT: no allocation; one syscall.
Status futex_wake(std::atomic<std::uint32_t>& word, int count) noexcept;

}  // namespace hal
