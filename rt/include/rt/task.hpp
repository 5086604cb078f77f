#pragma once
// F2: what a task is made of, as the submitter gives it and as a query returns it.
#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <type_traits>

#include "rt/inline_fn.hpp"
#include "rt/retry.hpp"
#include "rt/rollback.hpp"
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

// What a running task sees of itself.
class TaskContext {
 public:
  // `stop` holds the token of the run asked to stop: a request meant for an earlier run
  // (or an earlier task in the same slot) can never reach this one.
  TaskContext(TaskId id, const std::atomic<std::uint64_t>& stop, std::uint64_t stop_token, const Context& ctx,
              ns_t release, ns_t deadline, std::uint64_t release_index = 0, int worker = -1) noexcept
      : id_(id),
        stop_(&stop),
        stop_token_(stop_token),
        ctx_(&ctx),
        release_(release),
        deadline_(deadline),
        release_index_(release_index),
        worker_(worker) {}
  // A one-shot task's id. For a periodic task, index is the periodic task's index and
  // generation 0.
  [[nodiscard]] TaskId id() const noexcept { return id_; }
  [[nodiscard]] const Context& context() const noexcept { return *ctx_; }
  // When this run was due: a periodic release's scheduled time (on the absolute grid,
  // whatever the wake-up jitter), or when a one-shot task became ready.
  [[nodiscard]] ns_t release() const noexcept { return release_; }
  [[nodiscard]] ns_t deadline() const noexcept { return deadline_; }                     // absolute, 0 when none
  [[nodiscard]] std::uint64_t release_index() const noexcept { return release_index_; }  // periodic: 0, 1, 2...
  [[nodiscard]] int worker() const noexcept { return worker_; }  // the worker running it; -1 off the engine
  // F7/F8: set by cancel(), or by the deadline monitor when the deadline passed; a
  // cooperative task checks it and returns. RT: wait-free; one relaxed load.
  [[nodiscard]] bool stop_requested() const noexcept { return stop_->load(std::memory_order_relaxed) == stop_token_; }

 private:
  TaskId id_;
  const std::atomic<std::uint64_t>* stop_;
  std::uint64_t stop_token_;
  const Context* ctx_;
  ns_t release_;
  ns_t deadline_;
  std::uint64_t release_index_;
  int worker_;
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
  ns_t start_in = 0;     // delayed start, relative to submission; 0 = at once
  ns_t start_at = 0;     // delayed start, absolute (CLOCK_MONOTONIC); wins over start_in
  ns_t deadline_in = 0;  // relative deadline from when it becomes ready (its start); 0 = none
  ns_t deadline_at = 0;  // absolute deadline (CLOCK_MONOTONIC); wins over deadline_in
  GateMask gates = 0;    // every one of these gates must be open when the task starts
  Hook pre = nullptr;
  Hook post = nullptr;
  WorkflowId workflow = 0;
  StateBinding state{};  // F11: snapshot before the run, restored on a violation
  RetryPolicy retry{};   // F13: a failed attempt is tried again; exhausted, it is dead-lettered (F14)
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
  ns_t start_at = 0;  // delayed start; 0 when none
  ns_t created = 0, started = 0, finished = 0;
  int worker = -1;                                  // the worker that ran it (its latest attempt), -1 if none
  std::uint32_t attempts = 0;                       // F13: attempts begun or ended (retries + the one running or done)
  std::array<Transition, kHistoryDepth> history{};  // oldest first
  std::size_t history_size = 0;
};

}  // namespace rt
