#pragma once
// The demo's handlers around the plant (demo/plant.hpp): "motor_pid", the 1 kHz loop, and
// the 10 ms frame's "sense", "estimate", "control", "actuate".
//
// The loop owns the whole simulation (motor, PID, set-point profile, tracking), bound for
// snapshot rollback: a violated run (an injected throw, an overrun past the deadline) is
// undone as if it had not happened, and the report's tracking figures show whether that
// worked (an injected fault first poisons the state with NaN). The frame is the
// supervisor: it samples the published speed with noise, estimates it, compares it with
// the set-point, and actuates a load-torque disturbance schedule the loop must reject.
#include <atomic>
#include <cstdint>
#include <string>

#include "demo/plant.hpp"
#include "rt/rollback.hpp"
#include "rt/task.hpp"
#include "rtconfig/config.hpp"

namespace rt::cli {

// The loop publishes doubles through atomics: they must not hide a lock (armhf included).
static_assert(std::atomic<double>::is_always_lock_free);

struct Motor {
  std::string name;
  Snapshotted<demo::ControlLoop> loop;
  config::HandlerParams faults;
  std::atomic<std::uint64_t> runs{0};
  // Published after each run for the frame and the progress line (relaxed: samples).
  std::atomic<double> speed{0}, setpoint{0};
  std::atomic<double> load{0.01};  // N m, written by the frame's actuate stage

  explicit Motor(double period_s);
};

// RT: no allocation (but an injected fault's exception object), no syscall.
struct MotorFn {
  Motor* m;
  void operator()(TaskContext& ctx) const;
};

struct Frame {
  Motor* motor = nullptr;  // the first motor_pid loop, if any
  demo::SpeedEstimator estimator;
  demo::Xorshift rng;
  double dt = 0.01;  // the frame's period, s
  double measured = 0, estimate = 0, error = 0, next_load = 0.01;
  std::uint64_t frames = 0;
};

// RT: wait-free; no allocation, no syscall.
struct SenseFn {
  Frame* f;
  void operator()() const noexcept;
};
struct EstimateFn {
  Frame* f;
  void operator()() const noexcept;
};
struct ControlFn {
  Frame* f;
  void operator()() const noexcept;
};
struct ActuateFn {
  Frame* f;
  void operator()() const noexcept;
};

}  // namespace rt::cli
