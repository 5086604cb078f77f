#pragma once
// The embedded demo's plant and controller (issue 16): a DC motor under PID speed control
// on a repeating set-point profile. Pure code: no engine, no clock, no I/O. Every type is
// trivially copyable, so the runner binds a ControlLoop to a periodic task with
// rt::Snapshotted<ControlLoop> and a rollback is a memcpy back to the state before the
// violated run. Every run-path call is noexcept and allocation-free; the setup calls
// (DcMotor::configure, make_control_loop) are noexcept too but not meant for the loop.
#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <type_traits>

#include "hal/annotations.hpp"

namespace rt::demo {

// xorshift64* (Vigna 2014): 8 bytes of state, a full 2^64 - 1 period, deterministic for
// a given seed. Not for cryptography: the demo's measurement noise only.
struct Xorshift {
  std::uint64_t state = 0x9E3779B97F4A7C15ULL;  // never 0 (0 is xorshift's fixed point)

  // RT: wait-free; no allocation, no syscall.
  std::uint64_t next() noexcept HAL_NONBLOCKING {
    state ^= state >> 12;
    state ^= state << 25;
    state ^= state >> 27;
    return state * 0x2545F4914F6CDD1DULL;
  }
  // Uniform in [0, 1): the top 53 bits. RT: as next().
  double uniform() noexcept HAL_NONBLOCKING { return static_cast<double>(next() >> 11) * (1.0 / 9007199254740992.0); }
  // Approximately normal, mean 0, variance 1: the sum of four uniforms (Irwin-Hall, bounded
  // to +-2 sqrt(3)), no libm call. RT: as next().
  double gaussian() noexcept HAL_NONBLOCKING {
    const double s = uniform() + uniform() + uniform() + uniform() - 2.0;
    return s * 1.7320508075688772;  // Var(sum of 4 U(0,1)) = 1/3
  }
};

// A permanent-magnet DC motor, armature voltage in, shaft speed out:
//   J dw/dt = K i - b w - T_load        L di/dt = V - R i - K w
// The defaults are a small 24 V servo motor: no-load speed 9.9 rad/s per volt (238 rad/s
// at 24 V), poles at -10.6 and -189.5 rad/s (mechanical ~94 ms, electrical ~5 ms).
struct MotorParams {
  double J = 1.0e-3;          // rotor inertia, kg m^2
  double b = 1.0e-4;          // viscous friction, N m s/rad
  double K = 0.1;             // torque constant = back-EMF constant, N m/A = V s/rad
  double R = 1.0;             // armature resistance, ohm
  double L = 5.0e-3;          // armature inductance, H
  double load_torque = 0.01;  // constant load, N m (costs 0.1 A and ~1 rad/s at a fixed voltage)
  double v_max = 24.0;        // the drive saturates the voltage to +-v_max
};

// The steady-state speed for a constant voltage (after saturation), rad/s:
// w = (K V - R T_load) / (R b + K^2).
[[nodiscard]] double steady_state_speed(const MotorParams& p, double volts) noexcept;

class DcMotor {
 public:
  // Setup: discretises the motor exactly for a zero-order-hold input at step `dt` seconds
  // (the matrix exponential of the augmented system [A B; 0 0] by scaling and squaring of
  // a Taylor series: exact to rounding, and stable at any dt, unlike explicit RK at a
  // 5 ms electrical pole). Resets the state to rest. No allocation.
  void configure(const MotorParams& p, double dt) noexcept;

  // One step of dt with the voltage held (clamped to +-v_max). Returns the applied voltage.
  // RT: wait-free; no allocation, no syscall (a few multiplies).
  double step(double volts) noexcept HAL_NONBLOCKING {
    const double v = std::clamp(volts, -params_.v_max, params_.v_max);
    const double w = phi_[0][0] * speed_ + phi_[0][1] * current_ + gamma_v_[0] * v + gamma_t_[0] * params_.load_torque;
    const double i = phi_[1][0] * speed_ + phi_[1][1] * current_ + gamma_v_[1] * v + gamma_t_[1] * params_.load_torque;
    speed_ = w;
    current_ = i;
    return v;
  }
  // The load may change while running (a disturbance). RT: wait-free.
  void set_load_torque(double t) noexcept HAL_NONBLOCKING { params_.load_torque = t; }

  [[nodiscard]] double speed() const noexcept { return speed_; }      // rad/s
  [[nodiscard]] double current() const noexcept { return current_; }  // A
  [[nodiscard]] double dt() const noexcept { return dt_; }
  [[nodiscard]] const MotorParams& params() const noexcept { return params_; }

 private:
  MotorParams params_{};
  double dt_ = 0;
  double phi_[2][2] = {{1, 0}, {0, 1}};  // x[k+1] = phi x[k] + gamma_v V + gamma_t T_load
  double gamma_v_[2] = {0, 0};
  double gamma_t_[2] = {0, 0};
  double speed_ = 0, current_ = 0;
};

struct PidGains {
  double kp = 0.7;   // V per rad/s
  double ki = 7.4;   // V per rad: ki/kp = 10.6 s^-1 puts the PI zero on the motor's slow pole
  double kd = 5e-4;  // V s per rad/s, on the measurement
  double tf = 2e-3;  // derivative filter time constant, s (its corner at ~80 Hz)
  double out_min = -24.0, out_max = 24.0;
  bool anti_windup = true;  // false: the integrator runs on in saturation (bounded only by the output limits)
};

// Parallel PID: u = kp e + ki integral(e) - kd d(y_f)/dt, with the derivative on the
// measurement (a set-point step kicks nothing) through a first-order low-pass filter
// y_f' = (y - y_f) / tf (backward Euler), and anti-windup by clamping (conditional
// integration): while the output is saturated, the integrator does not move in the
// direction that deepens the saturation.
class Pid {
 public:
  Pid() = default;
  explicit Pid(const PidGains& g) noexcept : g_(g) {}

  // One control step. RT: wait-free; no allocation, no syscall.
  double update(double setpoint, double measured, double dt) noexcept HAL_NONBLOCKING {
    const double e = setpoint - measured;
    if (!primed_) {  // no derivative kick on the first sample
      filtered_ = measured;
      primed_ = true;
    }
    const double a = dt / (g_.tf + dt);
    const double prev = filtered_;
    filtered_ += a * (measured - filtered_);
    derivative_ = -g_.kd * (filtered_ - prev) / dt;
    const double candidate = integral_ + g_.ki * e * dt;
    const double unclamped = g_.kp * e + candidate + derivative_;
    const bool high = unclamped > g_.out_max && e > 0;
    const bool low = unclamped < g_.out_min && e < 0;
    if (!g_.anti_windup || (!high && !low)) integral_ = candidate;
    integral_ = std::clamp(integral_, g_.out_min, g_.out_max);
    output_ = std::clamp(g_.kp * e + integral_ + derivative_, g_.out_min, g_.out_max);
    saturated_ = output_ != g_.kp * e + integral_ + derivative_;
    return output_;
  }
  // RT: wait-free.
  void reset() noexcept HAL_NONBLOCKING {
    integral_ = filtered_ = derivative_ = output_ = 0;
    primed_ = saturated_ = false;
  }

  [[nodiscard]] const PidGains& gains() const noexcept { return g_; }
  [[nodiscard]] double integral() const noexcept { return integral_; }
  [[nodiscard]] double output() const noexcept { return output_; }
  [[nodiscard]] bool saturated() const noexcept { return saturated_; }

 private:
  PidGains g_{};
  double integral_ = 0;    // the I term, volts
  double filtered_ = 0;    // the filtered measurement
  double derivative_ = 0;  // the D term, volts
  double output_ = 0;
  bool primed_ = false, saturated_ = false;
};

// A repeating step profile, a pure function of the step index: levels[0] for
// `segment_steps` steps, then levels[1], ..., then levels[0] again. The default is
// 0 -> 100 -> 50 -> 150 -> (0 ...) rad/s, 2 s each at 1 kHz: an 8 s cycle.
struct SetpointProfile {
  static constexpr std::size_t kMaxLevels = 8;
  std::array<double, kMaxLevels> levels{0.0, 100.0, 50.0, 150.0};
  std::size_t count = 4;               // 1..kMaxLevels
  std::uint64_t segment_steps = 2000;  // > 0

  // RT: wait-free; no allocation, no syscall.
  [[nodiscard]] std::size_t segment(std::uint64_t step) const noexcept HAL_NONBLOCKING {
    return static_cast<std::size_t>((step / segment_steps) % count);
  }
  [[nodiscard]] double at(std::uint64_t step) const noexcept HAL_NONBLOCKING { return levels[segment(step)]; }
  // Steps since the latest level change (at 0 for step 0). RT: wait-free.
  [[nodiscard]] std::uint64_t since_change(std::uint64_t step) const noexcept HAL_NONBLOCKING {
    return step % segment_steps;
  }
};

// An alpha-beta filter (a steady-state Kalman filter for a constant-velocity model) over
// noisy speed samples: it estimates the speed and its rate of change. Alpha 0.3 and
// beta 0.05 cut a white measurement noise's variance to ~23 % ((2a^2 + 2b - 3ab) /
// (a (4 - 2a - b)), Kalata 1984) and follow a ramp without lag in steady state.
struct SpeedEstimator {
  double alpha = 0.3, beta = 0.05;
  double estimate = 0;  // rad/s
  double rate = 0;      // rad/s^2
  bool primed = false;

  // One sample `z` taken `dt` seconds after the previous one. RT: wait-free; no allocation.
  double update(double z, double dt) noexcept HAL_NONBLOCKING {
    if (!primed) {
      estimate = z;
      rate = 0;
      primed = true;
      return estimate;
    }
    const double predicted = estimate + rate * dt;
    const double r = z - predicted;
    estimate = predicted + alpha * r;
    rate += beta * r / dt;
    return estimate;
  }
  void reset() noexcept HAL_NONBLOCKING {
    estimate = rate = 0;
    primed = false;
  }
};

// Tracking error of the true speed against the set-point. RMS and max exclude a settling
// window of `settle_s` seconds after every set-point change (the closed loop settles in
// ~0.15 s even after a saturated step, so 0.5 s leaves margin); the in-band ratio counts
// every sample: the share of time within +-2 % of max(|set-point|, band_floor) (the floor
// keeps the band at 1 rad/s around a set-point of 0).
struct TrackingStats {
  double settle_s = 0.5;
  double band_ratio = 0.02;
  double band_floor = 50.0;  // rad/s
  std::uint64_t samples = 0, settled_samples = 0, in_band = 0;
  double sum_sq = 0, max_abs = 0;

  // RT: wait-free; no allocation, no syscall.
  void record(double setpoint, double actual, double since_change_s) noexcept HAL_NONBLOCKING {
    const double err = actual - setpoint;
    const double mag = err < 0 ? -err : err;
    const double ref = std::max(setpoint < 0 ? -setpoint : setpoint, band_floor);
    ++samples;
    if (mag <= band_ratio * ref) ++in_band;
    if (since_change_s < settle_s) return;
    ++settled_samples;
    sum_sq += err * err;
    max_abs = std::max(max_abs, mag);
  }
  [[nodiscard]] double rms() const noexcept;  // 0 when no settled sample
  [[nodiscard]] double in_band_ratio() const noexcept {
    return samples == 0 ? 0.0 : static_cast<double>(in_band) / static_cast<double>(samples);
  }
  void reset() noexcept HAL_NONBLOCKING {
    samples = settled_samples = in_band = 0;
    sum_sq = max_abs = 0;
  }
};

// The 1 kHz loop's whole state: what the runner snapshots before each run and memcpy's
// back on a rollback. step() is sense -> control -> actuate for one period:
//   sense:   the speed as measured, the true speed plus gaussian noise (noise_std rad/s)
//   control: the PID against the profile's set-point at this step
//   actuate: the voltage held over one period on the motor (the plant moves by dt)
// and then the tracking error of the true speed is recorded. Faults are the runner's.
struct ControlLoop {
  DcMotor motor;
  Pid pid;
  SetpointProfile profile;
  TrackingStats tracking;
  Xorshift rng;
  double noise_std = 0.2;  // rad/s: an encoder's speed estimate at 1 kHz
  std::uint64_t steps = 0;
  double setpoint = 0, measured = 0, volts = 0;

  // RT: wait-free; no allocation, no syscall.
  void step() noexcept HAL_NONBLOCKING {
    const double dt = motor.dt();
    setpoint = profile.at(steps);
    measured = motor.speed() + noise_std * rng.gaussian();
    volts = motor.step(pid.update(setpoint, measured, dt));
    ++steps;
    tracking.record(setpoint, motor.speed(), static_cast<double>(profile.since_change(steps - 1) + 1) * dt);
  }
  [[nodiscard]] double time_s() const noexcept { return static_cast<double>(steps) * motor.dt(); }
};

static_assert(std::is_trivially_copyable_v<Xorshift>);
static_assert(std::is_trivially_copyable_v<DcMotor>);
static_assert(std::is_trivially_copyable_v<Pid>);
static_assert(std::is_trivially_copyable_v<SetpointProfile>);
static_assert(std::is_trivially_copyable_v<SpeedEstimator>);
static_assert(std::is_trivially_copyable_v<TrackingStats>);
static_assert(std::is_trivially_copyable_v<ControlLoop>);

struct ControlLoopConfig {
  MotorParams motor{};
  PidGains gains{};
  SetpointProfile profile{};
  double dt = 1e-3;  // the loop's period, s
  double noise_std = 0.2;
  std::uint64_t seed = 0x9E3779B97F4A7C15ULL;  // 0 is replaced by the default
};

// Setup: a loop at rest at step 0. No allocation.
[[nodiscard]] ControlLoop make_control_loop(const ControlLoopConfig& cfg = {}) noexcept;

}  // namespace rt::demo
