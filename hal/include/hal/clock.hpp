#pragma once
// CLOCK_MONOTONIC in nanoseconds, everywhere in rtengine: it never jumps with NTP or
// settimeofday, and timerfd, clock_nanosleep and io_uring timeouts all accept it as an
// absolute base, so one number means the same instant to every part of the engine.
#include <atomic>
#include <cstdint>

#include "hal/annotations.hpp"
#include "hal/status.hpp"

namespace hal {

using ns_t = std::int64_t;  // signed: differences of instants are routinely negative

// Instants and 64-bit counters are atomics all over the run path. They must never fall
// back to libatomic's locks: on 32-bit Arm (Debian armhf is ARMv7-A) GCC uses
// ldrexd/strexd, and a target without 64-bit exclusives does not build.
static_assert(std::atomic<ns_t>::is_always_lock_free && std::atomic<std::uint64_t>::is_always_lock_free,
              "64-bit atomics must be lock-free on every target");

inline constexpr ns_t kNsPerUs = 1'000;
inline constexpr ns_t kNsPerMs = 1'000'000;
inline constexpr ns_t kNsPerSec = 1'000'000'000;

// RT: wait-free; no allocation; clock_gettime through the vDSO (no syscall on x86_64
// and aarch64 with an architected timer).
[[nodiscard]] ns_t now_ns() noexcept HAL_NONBLOCKING;

// Blocks until the absolute CLOCK_MONOTONIC time t (clock_nanosleep TIMER_ABSTIME), so a
// loop that adds its period to t never drifts. EINTR resumes the same absolute sleep.
// Returns at once if t has passed. RT: no allocation; one blocking syscall.
Status sleep_until(ns_t t) noexcept HAL_BLOCKING;

// clock_getres(CLOCK_MONOTONIC): 1 ns when high-resolution timers are active.
// Setup only.
[[nodiscard]] ns_t clock_resolution_ns() noexcept;

}  // namespace hal
