#include "demo/plant.hpp"

#include <cmath>

namespace rt::demo {

namespace {

// The augmented system z = [w, i, V, T]: z' = M z with the inputs held (zero-order hold).
constexpr int kN = 4;
using Mat = std::array<std::array<double, kN>, kN>;

Mat multiply(const Mat& a, const Mat& b) noexcept {
  Mat c{};
  for (int r = 0; r < kN; ++r)
    for (int k = 0; k < kN; ++k)
      for (int col = 0; col < kN; ++col)
        c[r][col] += a[r][k] * b[k][col];
  return c;
}

// exp(m) by scaling and squaring: m / 2^s has a norm <= 0.5, where 20 Taylor terms are
// exact to rounding (0.5^20 / 20! ~ 4e-25), then squared s times.
Mat expm(const Mat& m) noexcept {
  double norm = 0;
  for (const auto& row : m) {
    double sum = 0;
    for (double v : row)
      sum += std::fabs(v);
    norm = std::max(norm, sum);
  }
  int s = 0;
  while (norm > 0.5 && s < 60) {
    norm /= 2;
    ++s;
  }
  const double scale = std::ldexp(1.0, -s);
  Mat a{};
  for (int r = 0; r < kN; ++r)
    for (int c = 0; c < kN; ++c)
      a[r][c] = m[r][c] * scale;
  Mat result{}, term{};
  for (int r = 0; r < kN; ++r)
    result[r][r] = term[r][r] = 1;
  for (int k = 1; k <= 20; ++k) {
    term = multiply(term, a);
    for (int r = 0; r < kN; ++r)
      for (int c = 0; c < kN; ++c)
        term[r][c] /= k;
    for (int r = 0; r < kN; ++r)
      for (int c = 0; c < kN; ++c)
        result[r][c] += term[r][c];
  }
  for (int i = 0; i < s; ++i)
    result = multiply(result, result);
  return result;
}

}  // namespace

double steady_state_speed(const MotorParams& p, double volts) noexcept {
  const double v = std::clamp(volts, -p.v_max, p.v_max);
  return (p.K * v - p.R * p.load_torque) / (p.R * p.b + p.K * p.K);
}

void DcMotor::configure(const MotorParams& p, double dt) noexcept {
  params_ = p;
  dt_ = dt;
  Mat m{};
  m[0][0] = -p.b / p.J * dt;
  m[0][1] = p.K / p.J * dt;
  m[0][3] = -1.0 / p.J * dt;
  m[1][0] = -p.K / p.L * dt;
  m[1][1] = -p.R / p.L * dt;
  m[1][2] = 1.0 / p.L * dt;
  const Mat e = expm(m);
  for (int r = 0; r < 2; ++r) {
    phi_[r][0] = e[r][0];
    phi_[r][1] = e[r][1];
    gamma_v_[r] = e[r][2];
    gamma_t_[r] = e[r][3];
  }
  speed_ = current_ = 0;
}

double TrackingStats::rms() const noexcept {
  return settled_samples == 0 ? 0.0 : std::sqrt(sum_sq / static_cast<double>(settled_samples));
}

ControlLoop make_control_loop(const ControlLoopConfig& cfg) noexcept {
  ControlLoop loop;
  loop.motor.configure(cfg.motor, cfg.dt);
  loop.pid = Pid(cfg.gains);
  loop.profile = cfg.profile;
  loop.noise_std = cfg.noise_std;
  loop.rng.state = cfg.seed == 0 ? Xorshift{}.state : cfg.seed;
  return loop;
}

}  // namespace rt::demo
