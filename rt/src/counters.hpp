#pragma once
// The engine's counters, placed by who writes them. A counter one thread owns is a
// relaxed load and store (no locked instruction); one that several threads bump is a
// fetch_add on a line of its own. Stats add them up at query time.
#include <atomic>
#include <cstdint>

#include "hal/annotations.hpp"
#include "rt/types.hpp"

namespace rt::detail {

// Bumped by any thread: one cache line each, so producers and workers never share one.
struct alignas(hal::kCacheLine) Counter {
  std::atomic<std::uint64_t> v{0};
  // RT: lock-free; one atomic add.
  void add(std::uint64_t n = 1) noexcept { v.fetch_add(n, std::memory_order_relaxed); }
  [[nodiscard]] std::uint64_t get() const noexcept { return v.load(std::memory_order_acquire); }
};

// Bumped by one thread only (its owner); read by any. RT: wait-free; a load and a store.
struct Tally {
  std::atomic<std::uint64_t> v{0};
  void add(std::uint64_t n = 1) noexcept { v.store(v.load(std::memory_order_relaxed) + n, std::memory_order_release); }
  [[nodiscard]] std::uint64_t get() const noexcept { return v.load(std::memory_order_acquire); }
};

// What happened to tasks, counted where it happened. Each worker and the monitor own one
// (`shared` false: plain tallies); cancel() and stop() may run on any thread and use the
// engine's shared block (`shared` true: atomic adds).
struct Outcomes {
  explicit Outcomes(bool is_shared = false) noexcept : shared(is_shared) {}
  bool shared;
  std::atomic<std::uint64_t> completed{0}, failed{0}, timed_out{0}, cancelled{0}, skipped{0};
  std::atomic<std::uint64_t> deadline_misses{0}, rolled_back{0}, gate_violations{0}, exceptions{0};
  // RT: wait-free (owned) or lock-free (shared); no allocation.
  void add(std::atomic<std::uint64_t>& c) noexcept {
    if (shared) {
      c.fetch_add(1, std::memory_order_relaxed);
    } else {
      c.store(c.load(std::memory_order_relaxed) + 1, std::memory_order_release);
    }
  }
  void add_to(Outcomes& sum) const noexcept {
    auto plus = [](std::atomic<std::uint64_t>& to, const std::atomic<std::uint64_t>& from) {
      to.store(to.load(std::memory_order_relaxed) + from.load(std::memory_order_acquire), std::memory_order_relaxed);
    };
    plus(sum.completed, completed);
    plus(sum.failed, failed);
    plus(sum.timed_out, timed_out);
    plus(sum.cancelled, cancelled);
    plus(sum.skipped, skipped);
    plus(sum.deadline_misses, deadline_misses);
    plus(sum.rolled_back, rolled_back);
    plus(sum.gate_violations, gate_violations);
    plus(sum.exceptions, exceptions);
  }
  [[nodiscard]] std::uint64_t ended() const noexcept {
    return completed.load(std::memory_order_acquire) + failed.load(std::memory_order_acquire) +
           timed_out.load(std::memory_order_acquire) + cancelled.load(std::memory_order_acquire) +
           skipped.load(std::memory_order_acquire);
  }
};

// Bumped on refusals, rare paths and by the monitor: shared, one line each.
struct Counters {
  Counter detected_by_monitor, stalls, scheduled, release_deferrals;
  Counter events_published, events_dropped;
  Counter no_free_slot, invalid, refused_transitions, ring_push_refusals, circuit_open;
  std::array<Counter, kClassCount> queue_full{};
};

}  // namespace rt::detail
