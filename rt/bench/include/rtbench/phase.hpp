#pragma once
// Where another program's periodic thread wakes within its period, read from outside: the
// kernel counts every time a thread is put on a CPU (/proc/PID/task/TID/schedstat, its
// third field), and a thread that sleeps between releases is put on its CPU once per
// release. P1 uses it to run the engine's sleep loop and cyclictest on the same CPU in the
// same second, their releases half a period apart (p1_release.cpp). Reading schedstat
// takes no lock the measured thread's CPU needs; the bench probes from its side CPU.
// Setup/measurement code: allocates, blocks.
#include <sys/types.h>

#include <atomic>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "rt/types.hpp"

namespace rt::bench {

// The third field of a schedstat line ("<ns on CPU> <ns waiting> <times run>").
[[nodiscard]] std::optional<std::uint64_t> parse_schedstat_runs(std::string_view line) noexcept;

// The phase (0 <= phase < period, against CLOCK_MONOTONIC) of a series of wake-up times
// of a loop with this period: the median of the times modulo the period, taken on the
// circle around the time nearest to all the others, so wake-ups on both sides of a
// period's boundary stay one cluster and a few stray ones do not move it. None with fewer
// than 8 times.
[[nodiscard]] std::optional<ns_t> wake_phase(const std::vector<ns_t>& wakes, ns_t period);

// Where `t` lies after `phase` within a period: in [0, period).
[[nodiscard]] ns_t phase_offset(ns_t t, ns_t phase, ns_t period) noexcept;

struct PhaseProbe {
  std::optional<ns_t> phase;  // none: `why` says why
  std::string why;
  int wakes = 0;  // wake-ups seen
};

// Polls thread `tid` of process `pid` until it has timed `wakes` wake-ups (the first two
// dropped: they may be the thread's start; one seen with another, or after a look more than
// period/16 before, is not timed) or `timeout` passed, and returns their phase.
PhaseProbe probe_phase(pid_t pid, pid_t tid, ns_t period, int wakes, ns_t timeout);

// A child of this process named `comm` (as /proc/PID/stat gives it), and a thread of it
// other than its main one: what run_program started on another thread. 0 when none
// appears within `timeout`, or once `*gone` is set (the child has exited).
[[nodiscard]] pid_t find_child(std::string_view comm, ns_t timeout, const std::atomic<bool>* gone = nullptr);
[[nodiscard]] pid_t find_second_thread(pid_t pid, ns_t timeout, const std::atomic<bool>* gone = nullptr);

}  // namespace rt::bench
