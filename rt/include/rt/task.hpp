#pragma once
// F2: what a task is made of, as the submitter gives it and as a query returns it.
#include <array>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <type_traits>

#include "rt/inline_fn.hpp"
#include "rt/types.hpp"

namespace rt {

using TypeId = std::uint16_t;      // interned task type name (EngineConfig::task_types); 0 = "task"
using GateMask = std::uint64_t;    // F6: bit i = gate i (EngineConfig::gates)
using WorkflowId = std::uint32_t;  // 0 = none

// Fixed context payload (seed 000's user and session ids, and parameters).
struct Context {
  std::uint64_t user_id = 0;
  std::uint64_t session_id = 0;
  std::array<unsigned char, 48> params{};

  // RT: no allocation. T must be trivially copyable and fit in 48 bytes.
  template <class T>
  void set_params(const T& v) noexcept {
    static_assert(std::is_trivially_copyable_v<T> && sizeof(T) <= sizeof(params),
                  "params: trivially copyable, <= 48 bytes");
    std::memcpy(params.data(), &v, sizeof(T));
  }
  template <class T>
  [[nodiscard]] T params_as() const noexcept {
    static_assert(std::is_trivially_copyable_v<T> && sizeof(T) <= sizeof(params),
                  "params: trivially copyable, <= 48 bytes");
    T v;
    std::memcpy(&v, params.data(), sizeof(T));
    return v;
  }
};
static_assert(std::is_trivially_copyable_v<Context>);

namespace detail {
struct TaskSlot;
}

// What a running task sees of itself.
class TaskContext {
 public:
  explicit TaskContext(detail::TaskSlot& slot, TaskId id) noexcept : slot_(&slot), id_(id) {}
  [[nodiscard]] TaskId id() const noexcept { return id_; }
  // RT: wait-free.
  [[nodiscard]] const Context& context() const noexcept;
  [[nodiscard]] ns_t deadline() const noexcept;  // absolute, 0 when none
  // F7: set by cancel() while running; a cooperative task checks it and returns.
  // RT: wait-free; one relaxed load.
  [[nodiscard]] bool stop_requested() const noexcept;

 private:
  detail::TaskSlot* slot_;
  TaskId id_;
};

// F17: pre- and post-execution hooks: plain function pointers, so calling one can
// neither allocate nor throw.
using Hook = void (*)(const TaskContext&) noexcept;

// Inline storage for a task's callable. 64 bytes hold a lambda capturing up to eight
// pointers or ids; anything larger is a compile error (InlineFn).
inline constexpr std::size_t kTaskFnCapacity = 64;
using TaskFn = InlineFn<kTaskFnCapacity, TaskContext&>;

struct SubmitOptions {
  Priority priority = Priority::Normal;
  TypeId type = 0;
  ns_t deadline_in = 0;  // relative deadline from submission; 0 = none
  ns_t deadline_at = 0;  // absolute deadline (CLOCK_MONOTONIC); wins over deadline_in
  GateMask gates = 0;    // every one of these gates must be open when the task starts
  Hook pre = nullptr;
  Hook post = nullptr;
  WorkflowId workflow = 0;
  Context context{};
};

inline constexpr std::size_t kHistoryDepth = 8;

struct Transition {
  State state = State::Free;
  ns_t at = 0;  // CLOCK_MONOTONIC
};

// A copy of one task's record, for queries (F20).
struct TaskInfo {
  TaskId id;
  State state = State::Free;
  Reason reason = Reason::None;
  Priority priority = Priority::Normal;
  TypeId type = 0;
  WorkflowId workflow = 0;
  ns_t deadline = 0;
  ns_t created = 0, started = 0, finished = 0;
  int worker = -1;                                  // the worker that ran it, -1 if none
  std::array<Transition, kHistoryDepth> history{};  // oldest first
  std::size_t history_size = 0;
};

}  // namespace rt
