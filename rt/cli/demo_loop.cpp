#include "demo_loop.hpp"

#include <cmath>
#include <limits>

#include "handlers.hpp"

namespace rt::cli {

Motor::Motor(double period_s) {
  demo::ControlLoopConfig c;
  c.dt = period_s;
  // The profile's segments stay 2 s long whatever the period.
  c.profile.segment_steps = static_cast<std::uint64_t>(std::llround(2.0 / period_s));
  if (c.profile.segment_steps == 0) c.profile.segment_steps = 1;
  loop.value = demo::make_control_loop(c);
}

void MotorFn::operator()(TaskContext& ctx) const {
  const std::uint64_t n = m->runs.fetch_add(1, std::memory_order_relaxed) + 1;
  demo::ControlLoop& l = m->loop.value;
  l.motor.set_load_torque(m->load.load(std::memory_order_relaxed));
  l.step();
  const config::HandlerParams& p = m->faults;
  const bool fail = p.fail_every != 0 && n % p.fail_every == 0;
  const bool overrun = p.overrun_every != 0 && n % p.overrun_every == 0;
  if (fail || overrun) {
    // Poison the state the way a real fault might: only a rollback keeps the NaN out of
    // the controller and the report.
    l.setpoint = l.measured = std::numeric_limits<double>::quiet_NaN();
    l.tracking.sum_sq = std::numeric_limits<double>::quiet_NaN();
  }
  if (overrun) busy_for(p.overrun, ctx);  // cooperative: returns once the monitor asks
  if (fail) throw InjectedFault{};
  m->speed.store(l.motor.speed(), std::memory_order_relaxed);
  m->setpoint.store(l.setpoint, std::memory_order_relaxed);
}

void SenseFn::operator()() const noexcept {
  const double speed = f->motor != nullptr ? f->motor->speed.load(std::memory_order_relaxed) : 0.0;
  f->measured = speed + 0.5 * f->rng.gaussian();
}

void EstimateFn::operator()() const noexcept { f->estimate = f->estimator.update(f->measured, f->dt); }

void ControlFn::operator()() const noexcept {
  const double sp = f->motor != nullptr ? f->motor->setpoint.load(std::memory_order_relaxed) : 0.0;
  f->error = f->estimate - sp;
  // The disturbance: the load steps between 0.01 and 0.05 N m every 3 s.
  const auto period = static_cast<std::uint64_t>(std::llround(3.0 / f->dt));
  f->next_load = (f->frames / (period == 0 ? 1 : period)) % 2 == 0 ? 0.01 : 0.05;
  ++f->frames;
}

void ActuateFn::operator()() const noexcept {
  if (f->motor != nullptr) f->motor->load.store(f->next_load, std::memory_order_relaxed);
}

}  // namespace rt::cli
