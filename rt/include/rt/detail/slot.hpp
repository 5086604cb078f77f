#pragma once
// A task's slot: preallocated in the arena, reused, never freed. The generation, the
// state and the count of recorded transitions share one atomic word, so a transition on
// a stale id can never land on the task that reuses the slot, and a transition claims its
// history entry in the same CAS that makes it (no second read-modify-write).
#include <atomic>
#include <cstddef>
#include <cstdint>

#include "hal/annotations.hpp"
#include "rt/task.hpp"

namespace rt::detail {

// word = generation << 32 | transitions recorded << 8 | state
constexpr std::uint64_t pack(std::uint32_t gen, std::uint32_t count, State s) noexcept {
  return (std::uint64_t{gen} << 32) | (std::uint64_t{count & 0xFFFFFFU} << 8) | static_cast<std::uint8_t>(s);
}
constexpr std::uint32_t gen_of(std::uint64_t w) noexcept { return static_cast<std::uint32_t>(w >> 32); }
constexpr std::uint32_t count_of(std::uint64_t w) noexcept { return static_cast<std::uint32_t>(w >> 8) & 0xFFFFFFU; }
constexpr State state_of(std::uint64_t w) noexcept { return static_cast<State>(w & 0xFF); }
// FREE under the next generation: no id given out for `w` reaches the slot's next task.
constexpr std::uint64_t free_word_after(std::uint64_t w) noexcept {
  const std::uint32_t next = gen_of(w) + 1;
  return pack(next == 0 ? 1 : next, 0, State::Free);  // generation 0 never names a task
}

// alignas: two workers finishing neighbouring tasks must not share a cache line.
// Line 0 holds everything a worker reads or writes to start a task and to record its
// end, so starting one touches that line, the callable's lines (the hooks sit beside the
// callable's invoke pointer) and the history entry it adds. The producer writes the whole
// slot before it publishes READY (a release store on `word`); what only queries read
// comes last.
struct alignas(hal::kCacheLine) TaskSlot {
  // -- line 0: start and end --
  std::atomic<std::uint64_t> word{pack(1, 0, State::Free)};
  std::atomic<ns_t> deadline{0};       // absolute; 0 none
  std::atomic<ns_t> ready{0};          // when it may start: submission, or its delayed start
  std::atomic<GateMask> gates{0};      // required open at start and at end
  std::atomic<std::uint64_t> stop{0};  // the generation asked to stop (F7, F8); 0 none
  std::atomic<ns_t> started{0};        // written by the worker that starts it
  std::atomic<ns_t> finished{0};       // written with the outcome
  std::atomic<std::int16_t> worker{-1};
  std::atomic<Reason> reason{Reason::None};
  // The worker that starts it must tell the monitor of its deadline: the monitor's ring was
  // full at submission, or the monitor met the deadline while the task was still READY and
  // dropped it (release_scheduled). The monitor's store and the starting worker's load are
  // seq_cst: half of the handshake with the monitor's arming (run_task.cpp, execute).
  std::atomic<bool> announce_at_start{false};
  // F13: retries already scheduled, and whether `retry` below holds a policy; the worker
  // that ends an attempt reads both, so they sit on the line it has anyway.
  std::atomic<std::uint16_t> retries_used{0};
  std::atomic<bool> retries{false};
  // -- lines 1-2: the callable, its hooks and the bound state --
  TaskFn fn;
  Hook pre = nullptr;
  Hook post = nullptr;
  StateBinding state;
  // -- queries, history and payload --
  std::atomic<Priority> priority{Priority::Normal};
  std::atomic<TypeId> type{0};
  std::atomic<WorkflowId> workflow{0};
  std::atomic<ns_t> created{0};
  std::atomic<ns_t> start_at{0};  // delayed start; 0 when none
  // Written only for a task with a retry policy (`retries`): each attempt gets the same
  // deadline budget from its own release.
  RetryPolicy retry{};
  ns_t budget = 0;
  // The generation cancel() asked to end while it ran: not retried after its attempt.
  std::atomic<std::uint32_t> cancelled_gen{0};
  // Entry count_of(word) % kHistoryDepth is the next one: ns since the engine's epoch
  // (56 bits: 2.2 years) << 8 | state.
  std::array<std::atomic<std::uint64_t>, kHistoryDepth> history{};
  Context context{};
};

static_assert(offsetof(TaskSlot, fn) == hal::kCacheLine, "line 0 is exactly what starting a task needs");
static_assert(std::atomic<std::uint64_t>::is_always_lock_free);
static_assert(std::atomic<ns_t>::is_always_lock_free);

}  // namespace rt::detail
