#pragma once
// The run command's built-in handlers: what a config's `handler = "..."` names. Each
// declaration gets its own state (params, run counter, plant), allocated at setup at a
// stable address; the callables the engine stores are a pointer or two (InlineFn).
#include <atomic>
#include <cstdint>
#include <exception>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "rt/engine.hpp"
#include "rtconfig/config.hpp"

namespace rt::cli {

// What an injected fault throws: no message to allocate, only the exception object.
struct InjectedFault : std::exception {
  [[nodiscard]] const char* what() const noexcept override { return "injected fault"; }
};

// "work", "noop", "fail": busy time and count-based faults (config::HandlerParams).
struct WorkState {
  config::HandlerParams params;
  bool always_fail = false;
  std::atomic<std::uint64_t> runs{0};
};

// RT: no allocation (but the injected throw's exception object); spins on the clock.
struct WorkFn {
  WorkState* s;
  void operator()(TaskContext& ctx) const;
};

// The catalogue, in the order `rtengine validate` lists it.
inline constexpr std::string_view kHandlers[] = {"motor_pid", "sense", "estimate", "control",
                                                 "actuate",   "work",  "noop",     "fail"};

[[nodiscard]] bool is_generic(std::string_view handler) noexcept;  // work, noop, fail

// Spins until `d` has passed or the run is asked to stop. RT: no allocation, no syscall
// (vDSO clock reads).
void busy_for(ns_t d, const TaskContext& ctx) noexcept;

// Setup only: a new WorkState for `handler` (a generic one) with `p`.
[[nodiscard]] std::unique_ptr<WorkState> make_work(std::string_view handler, const config::HandlerParams& p);

}  // namespace rt::cli
