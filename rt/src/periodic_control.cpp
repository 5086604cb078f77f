// F9 periodic tasks: setup, control from any thread, and their stats. The runs are the
// owning worker's (run_periodic.cpp).
#include <stdexcept>
#include <string>

#include "engine_impl.hpp"
#include "rt/engine.hpp"

namespace rt {

int Engine::prepare_periodic(const PeriodicSpec& spec) {
  Impl& m = *impl_;
  auto bad = [&](const std::string& what) { throw std::invalid_argument("PeriodicSpec '" + spec.name + "': " + what); };
  if (m.periodic.size() >= cfg_.max_periodic)
    throw std::length_error("add_periodic: all " + std::to_string(cfg_.max_periodic) +
                            " periodic tasks taken; raise EngineConfig::max_periodic");
  if (spec.name.empty()) bad("name must not be empty");
  if (periodic_index(spec.name) >= 0) bad("name already used");
  if (spec.period <= 0) bad("period must be positive");
  if (spec.phase < 0) bad("phase must not be negative");
  if (spec.deadline < 0 || spec.deadline > spec.period) bad("deadline must be 0 (the period) .. period");
  if (static_cast<std::size_t>(spec.priority) >= kClassCount) bad("priority is not a class");
  if (spec.precision == Precision::Hybrid && spec.hybrid_margin != kAutoMargin &&
      (spec.hybrid_margin < 0 || spec.hybrid_margin >= spec.period))
    bad("hybrid_margin must be 0 .. period, or kAutoMargin");
  if (spec.precision == Precision::Hybrid && spec.hybrid_margin == kAutoMargin) {
    if (!(spec.hybrid_margin_cap > 0 && spec.hybrid_margin_cap < 1))  // NaN too
      bad("hybrid_margin_cap must be a share of the period, 0 < cap < 1");
    if (spec.hybrid_margin_guard < 0 || spec.hybrid_margin_guard >= spec.period)
      bad("hybrid_margin_guard must be 0 .. period");
  }
  if (spec.type >= cfg_.task_types.size()) bad("type is not one of task_types");
  if (cfg_.gates.size() < 64 && (spec.gates >> cfg_.gates.size()) != 0) bad("gates names an unknown gate");
  if (spec.state.bound() && spec.state.saved == nullptr && spec.state.snapshot == nullptr)
    bad("state: a snapshot buffer or snapshot/restore functions are needed");
  int worker = spec.worker;
  if (worker < 0) {
    const auto& serving = m.serving[static_cast<std::size_t>(spec.priority)];
    if (serving.empty()) bad("no worker serves its priority class; name a worker");
    worker = serving.front()->index;
  }
  if (static_cast<std::size_t>(worker) >= m.workers.size()) bad("worker " + std::to_string(worker) + " does not exist");
  if (static_cast<std::size_t>(worker) >= cfg_.initial_workers)
    bad("worker " + std::to_string(worker) + " is not started by start() (initial_workers is " +
        std::to_string(cfg_.initial_workers) + ")");
  auto p = std::make_unique<detail::PeriodicTask>(m.arena, spec);
  p->index = static_cast<int>(m.periodic.size());
  p->deadline_rel = spec.deadline != 0 ? spec.deadline : spec.period;
  p->worker = m.workers[static_cast<std::size_t>(worker)].get();
  m.periodic.push_back(std::move(p));
  return m.periodic.back()->index;
}

TaskFn& Engine::periodic_fn(int id) noexcept { return impl_->periodic[static_cast<std::size_t>(id)]->fn; }

void Engine::commit_periodic(int id) {
  detail::PeriodicTask& p = *impl_->periodic[static_cast<std::size_t>(id)];
  detail::Worker& w = *p.worker;
  const std::size_t n = w.periodic_count.load(std::memory_order_relaxed);
  w.periodic[n] = &p;
  w.periodic_count.store(n + 1, std::memory_order_release);  // the worker may look from now on
}

bool Engine::command_periodic(int id, PeriodicState want) noexcept {
  if (id < 0 || static_cast<std::size_t>(id) >= impl_->periodic.size()) return false;
  detail::PeriodicTask& p = *impl_->periodic[static_cast<std::size_t>(id)];
  const PeriodicState was = p.want.load(std::memory_order_acquire);
  if (want == PeriodicState::Paused && was == PeriodicState::Stopped) return false;  // nothing to pause
  if (want == PeriodicState::Running && was == PeriodicState::Stopped) {
    p.start_base.store(hal::now_ns(), std::memory_order_relaxed);
    p.starts.fetch_add(1, std::memory_order_release);
  }
  p.want.store(want, std::memory_order_release);
  p.worker->periodic_commands.fetch_add(1, std::memory_order_seq_cst);
  impl_->wake_worker(*p.worker);
  return true;
}

bool Engine::start_periodic(int id) noexcept { return command_periodic(id, PeriodicState::Running); }
bool Engine::stop_periodic(int id) noexcept { return command_periodic(id, PeriodicState::Stopped); }
bool Engine::pause_periodic(int id) noexcept { return command_periodic(id, PeriodicState::Paused); }
bool Engine::resume_periodic(int id) noexcept {
  if (id < 0 || static_cast<std::size_t>(id) >= impl_->periodic.size()) return false;
  // Resume continues a paused grid; a stopped task stays stopped (start it instead).
  if (impl_->periodic[static_cast<std::size_t>(id)]->want.load(std::memory_order_relaxed) != PeriodicState::Paused)
    return false;
  return command_periodic(id, PeriodicState::Running);
}

std::size_t Engine::periodic_count() const noexcept { return impl_->periodic.size(); }

int Engine::periodic_index(std::string_view name) const noexcept {
  for (const auto& p : impl_->periodic) {
    if (p->spec.name == name) return p->index;
  }
  return -1;
}

namespace {
const detail::PeriodicTask& periodic_at(const std::vector<std::unique_ptr<detail::PeriodicTask>>& all, int id) {
  if (id < 0 || static_cast<std::size_t>(id) >= all.size())
    throw std::out_of_range("no periodic task " + std::to_string(id));
  return *all[static_cast<std::size_t>(id)];
}
}  // namespace

PeriodicStats Engine::periodic_stats(int id) const {
  const detail::PeriodicTask& p = periodic_at(impl_->periodic, id);
  PeriodicStats s;
  s.name = p.spec.name;
  s.state = p.state.load(std::memory_order_acquire);
  s.worker = p.worker->index;
  s.period = p.spec.period;
  s.releases = p.releases.get();
  s.runs = p.runs.get();
  s.skipped = p.skipped.get();
  s.overruns = p.overruns.get();
  s.deadline_misses = p.misses.get();
  s.rollbacks = p.rollbacks.get();
  s.exceptions = p.exceptions.get();
  s.gate_violations = p.gate_violations.get();
  s.jitter = p.jitter.snapshot().summary();
  s.response = p.response.snapshot().summary();
  s.execution = p.execution.snapshot().summary();
  s.next_release = p.next_release.load(std::memory_order_relaxed);
  if (p.spec.precision == Precision::Hybrid) {
    s.hybrid_margin = p.margin_published.load(std::memory_order_relaxed);
    s.wake_lateness_p999 = p.wake_lateness.load(std::memory_order_relaxed);
    s.late_wakes = p.late_wakes.get();
  }
  return s;
}

HistogramSnapshot Engine::periodic_jitter(int id) const { return periodic_at(impl_->periodic, id).jitter.snapshot(); }

}  // namespace rt
