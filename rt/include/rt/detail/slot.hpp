#pragma once
// A task's slot: preallocated in the arena, reused, never freed. The generation and the
// state share one atomic word so a transition on a stale id can never land on the task
// that reuses the slot.
#include <atomic>
#include <cstdint>

#include "hal/annotations.hpp"
#include "rt/task.hpp"

namespace rt::detail {

constexpr std::uint64_t pack(std::uint32_t gen, State s) noexcept {
  return (std::uint64_t{gen} << 32) | static_cast<std::uint8_t>(s);
}
constexpr std::uint32_t gen_of(std::uint64_t w) noexcept { return static_cast<std::uint32_t>(w >> 32); }
constexpr State state_of(std::uint64_t w) noexcept { return static_cast<State>(w & 0xFF); }

// alignas: two workers finishing neighbouring tasks must not share a cache line. The
// fields a worker needs to start and run a task come first (two cache lines); what only
// queries read comes after, so a submit -> start handoff moves as few lines as it can.
struct alignas(hal::kCacheLine) TaskSlot {
  std::atomic<std::uint64_t> word{pack(1, State::Free)};
  std::atomic<ns_t> deadline{0};
  std::atomic<GateMask> gates{0};
  std::atomic<std::uint64_t> stop{0};  // the generation asked to stop (F7, F8); 0 none
  Hook pre = nullptr;
  Hook post = nullptr;
  TaskFn fn;
  StateBinding state;
  // -- queries, history and payload --
  std::atomic<Reason> reason{Reason::None};
  std::atomic<Priority> priority{Priority::Normal};
  std::atomic<TypeId> type{0};
  std::atomic<WorkflowId> workflow{0};
  std::atomic<std::int16_t> worker{-1};
  std::atomic<ns_t> created{0}, started{0}, finished{0};
  std::atomic<ns_t> start_at{0};  // delayed start; 0 when none
  std::atomic<std::uint32_t> history_count{0};
  // ns since the engine's epoch (56 bits: 2.2 years) << 8 | state
  std::array<std::atomic<std::uint64_t>, kHistoryDepth> history{};
  Context context{};
};

static_assert(std::atomic<std::uint64_t>::is_always_lock_free);
static_assert(std::atomic<ns_t>::is_always_lock_free);

}  // namespace rt::detail
