#include "handlers.hpp"

#include <algorithm>

#include "cli.hpp"
#include "hal/clock.hpp"

namespace rt::cli {

std::vector<std::string> handler_names() { return {std::begin(kHandlers), std::end(kHandlers)}; }

config::LoadOptions load_options() {
  return config::LoadOptions{handler_names(), {"motor_pid"}, {"sense", "estimate", "control", "actuate"}};
}

bool is_generic(std::string_view h) noexcept { return h == "work" || h == "noop" || h == "fail"; }

void busy_for(ns_t d, const TaskContext& ctx) noexcept {
  if (d <= 0) return;
  const ns_t end = hal::now_ns() + d;
  while (hal::now_ns() < end && !ctx.stop_requested()) {
  }
}

void WorkFn::operator()(TaskContext& ctx) const {
  const std::uint64_t n = s->runs.fetch_add(1, std::memory_order_relaxed) + 1;
  const config::HandlerParams& p = s->params;
  busy_for(p.work, ctx);
  if (p.overrun_every != 0 && n % p.overrun_every == 0) busy_for(p.overrun, ctx);
  if (s->always_fail || (p.fail_every != 0 && n % p.fail_every == 0)) throw InjectedFault{};
}

std::unique_ptr<WorkState> make_work(std::string_view handler, const config::HandlerParams& p) {
  auto s = std::make_unique<WorkState>();
  s->params = p;
  if (handler == "noop") s->params = config::HandlerParams{};
  s->always_fail = handler == "fail";
  return s;
}

}  // namespace rt::cli
