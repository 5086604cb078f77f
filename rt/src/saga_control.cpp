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
  if (!m.saga_task) {
    m.saga_task = std::make_unique<std::atomic<std::uint64_t>[]>(cfg_.max_sagas);
    m.saga_busy = std::make_unique<detail::Counter[]>(cfg_.max_sagas);
  }
  return static_cast<int>(m.sagas.size() - 1);
}

void Engine::Impl::run_saga(void* impl, std::uint32_t saga, TaskContext& ctx) noexcept {
  Impl& m = *static_cast<Impl*>(impl);
  const SagaOutcome o = m.sagas[saga]->run(ctx);  // gives the SagaRun's claim back at its end
  // The engine's claim: back to free, unless its starter has not yet written this task's
  // id (then the next starter finds the id of an ended task and takes the claim over).
  std::uint64_t mine = ctx.id().value();
  (void)m.saga_task[saga].compare_exchange_strong(mine, 0, std::memory_order_acq_rel);
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
  const auto k = static_cast<std::size_t>(saga);
  SagaRun& run = *m.sagas[k];
  // One word is the engine's claim on the saga: 0 free, kClaiming while a starter submits,
  // else the TaskId value of the run's task. Every starter goes through it, so two runs
  // can never overlap; SagaRun's own claim only follows it.
  std::atomic<std::uint64_t>& word = m.saga_task[k];
  std::uint64_t held = 0;
  if (!word.compare_exchange_strong(held, Impl::kClaiming, std::memory_order_acq_rel)) {
    // A task that ended without running (cancelled while queued) never gave the claim
    // back: its starter takes it over. A run in progress keeps its task RUNNING, and gives
    // the claim back before its task ends.
    TaskInfo info;
    const bool ended = held != Impl::kClaiming && (!status(TaskId::from_value(held), info) || is_terminal(info.state));
    if (!ended || !word.compare_exchange_strong(held, Impl::kClaiming, std::memory_order_acq_rel)) {
      m.saga_busy[k].add();
      return GraphRunStatus::Busy;
    }
    run.release_claim();  // held by a run that never happened; already free after one that did
  }
  if (!run.try_claim()) {  // cannot happen: only the holder of `word` claims
    word.store(0, std::memory_order_release);
    return GraphRunStatus::Busy;
  }
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
      // The run may be over already (it then left kClaiming here): the id written now is
      // an ended task's, which the next starter takes over.
      std::uint64_t claiming = Impl::kClaiming;
      (void)word.compare_exchange_strong(claiming, c.id.value(), std::memory_order_acq_rel);
      if (id != nullptr) *id = c.id;
      wake(o.priority, c, notify);
      return GraphRunStatus::Started;
    }
  }
  run.release_claim();
  word.store(0, std::memory_order_release);
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
  SagaStats st = ss[static_cast<std::size_t>(saga)]->stats();
  st.busy = impl_->saga_busy[static_cast<std::size_t>(saga)].get();  // refusals are the engine's (try_run_saga)
  return st;
}

}  // namespace rt
