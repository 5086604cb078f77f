// F16 in the engine: a saga's run is one task whose worker runs the steps and, after a
// failure, the compensations (SagaRun::run). Adding sagas, starting a run, the results.
#include <stdexcept>
#include <string>

#include "engine_impl.hpp"

namespace rt {

namespace {
// A saga run's callable: trivially copyable (InlineFn).
struct SagaTask {
  void (*run)(void*, std::uint32_t, TaskContext&) noexcept;
  void* impl;
  std::uint32_t saga;
  void operator()(TaskContext& ctx) const noexcept { run(impl, saga, ctx); }
};
}  // namespace

int Engine::add_saga(const SagaSpec& spec, const HandlerRegistry& handlers) {
  Impl& m = *impl_;
  if (running()) throw std::logic_error("add_saga: sagas are added before start()");
  if (m.sagas.size() >= cfg_.max_sagas)
    throw std::length_error("add_saga: all " + std::to_string(cfg_.max_sagas) +
                            " sagas taken; raise EngineConfig::max_sagas");
  if (saga_index(spec.name) >= 0) throw std::invalid_argument("add_saga: saga '" + spec.name + "' already added");
  if (static_cast<std::size_t>(spec.priority) < kClassCount &&
      m.serving[static_cast<std::size_t>(spec.priority)].empty())
    throw std::invalid_argument("add_saga: saga '" + spec.name + "': no worker serves its priority class");
  m.sagas.push_back(std::make_unique<SagaRun>(spec, handlers));  // throws SagaError naming the problem
  if (!m.saga_task) m.saga_task = std::make_unique<std::atomic<std::uint64_t>[]>(cfg_.max_sagas);
  return static_cast<int>(m.sagas.size() - 1);
}

void Engine::Impl::run_saga(void* impl, std::uint32_t saga, TaskContext& ctx) noexcept {
  Impl& m = *static_cast<Impl*>(impl);
  const SagaOutcome o = m.sagas[saga]->run(ctx);
  if (ctx.worker() < 0) return;
  m.publish_event(static_cast<std::size_t>(ctx.worker()),
                  Event{.kind = o == SagaOutcome::Completed ? EventKind::SagaCompleted : EventKind::SagaCompensated,
                        .subject = Subject::Saga,
                        .reason = o == SagaOutcome::CompensationFailed ? Reason::Exception : Reason::None,
                        .worker = static_cast<std::int16_t>(ctx.worker()),
                        .id = saga,
                        .at = hal::now_ns(),
                        .value = static_cast<ns_t>(o)});
}

GraphRunStatus Engine::try_run_saga(Producer& p, int saga, const Context* ctx, TaskId* id) noexcept {
  Impl& m = *impl_;
  if (p.engine_ != this || saga < 0 || static_cast<std::size_t>(saga) >= m.sagas.size()) return GraphRunStatus::Unknown;
  SagaRun& run = *m.sagas[static_cast<std::size_t>(saga)];
  std::atomic<std::uint64_t>& task = m.saga_task[static_cast<std::size_t>(saga)];
  if (!run.try_claim()) {
    // A claim whose task ended without running (cancelled while queued, refused at its
    // start) is never given back by run(): take it back here. A run in progress keeps
    // its task non-terminal, and run() gives the claim back before its task ends.
    std::uint64_t held = task.load(std::memory_order_acquire);
    TaskInfo info;
    const bool leaked = held != 0 && (!status(TaskId::from_value(held), info) || is_terminal(info.state));
    // One starter takes a leaked claim back (the exchange), the others see Busy.
    if (!leaked || !task.compare_exchange_strong(held, 0, std::memory_order_acq_rel)) return GraphRunStatus::Busy;
    run.release_claim();
    if (!run.try_claim()) return GraphRunStatus::Busy;
  }
  task.store(0, std::memory_order_release);  // being submitted: another starter sees Busy
  const SagaSpec& spec = run.spec();
  SubmitOptions o;
  o.priority = spec.priority;
  o.deadline_in = spec.deadline_in;
  if (ctx != nullptr) o.context = *ctx;
  detail::Claim c = acquire(p.index_, o);
  SubmitStatus st = c.status;
  if (c.slot != nullptr) {
    c.slot->fn.emplace(SagaTask{&Impl::run_saga, &m, static_cast<std::uint32_t>(saga)});
    ns_t notify = 0;
    st = publish(p.index_, c, o, notify);
    if (st == SubmitStatus::Ok) {
      task.store(c.id.value(), std::memory_order_release);
      if (id != nullptr) *id = c.id;
      wake(o.priority, c, notify);
      return GraphRunStatus::Started;
    }
  }
  run.release_claim();
  return st == SubmitStatus::Stopped ? GraphRunStatus::Stopped : GraphRunStatus::QueueFull;
}

int Engine::saga_index(std::string_view name) const noexcept {
  const auto& ss = impl_->sagas;
  for (std::size_t i = 0; i < ss.size(); ++i) {
    if (ss[i]->spec().name == name) return static_cast<int>(i);
  }
  return -1;
}

std::size_t Engine::saga_count() const noexcept { return impl_->sagas.size(); }

SagaStats Engine::saga_stats(int saga) const {
  const auto& ss = impl_->sagas;
  if (saga < 0 || static_cast<std::size_t>(saga) >= ss.size())
    throw std::out_of_range("no saga " + std::to_string(saga));
  return ss[static_cast<std::size_t>(saga)]->stats();
}

}  // namespace rt
