#include "assembly.hpp"

#include <algorithm>
#include <stdexcept>

#include "hal/clock.hpp"

namespace rt::cli {

namespace {

// A [[task]] type's configured submission options.
SubmitOptions options_of(const Engine& e, const config::TaskDecl& t) {
  SubmitOptions o;
  o.priority = t.priority;
  o.type = static_cast<TypeId>(e.type_index(t.name));
  o.deadline_in = t.deadline;
  o.retry = t.retry;
  for (const std::string& gname : t.gates)
    o.gates |= GateMask{1} << e.gate_index(gname);
  return o;
}

std::runtime_error bad(const config::AppConfig& c, int line, const std::string& what) {
  return std::runtime_error(c.source + ":" + std::to_string(line) + ": " + what);
}

ns_t interval_of(double rate) { return rate > 0 ? static_cast<ns_t>(1e9 / rate) : 0; }

}  // namespace

Assembly::Assembly(const config::AppConfig& cfg) : cfg_(cfg) {
  // Generic handlers for saga steps and journaled tasks of unknown params.
  registry_.add("work", WorkFn{work_.emplace_back(make_work("work", {})).get()});
  registry_.add("noop", WorkFn{work_.emplace_back(make_work("noop", {})).get()});
  registry_.add("fail", WorkFn{work_.emplace_back(make_work("fail", {})).get()});
  for (const config::TaskDecl& t : cfg.tasks) {
    if (!is_generic(t.handler))
      throw bad(cfg, t.line,
                "task '" + t.name + "': handler '" + t.handler +
                    "' runs only as a periodic task or a workflow node (tasks take work, noop, fail)");
    WorkState* w = work_.emplace_back(make_work(t.handler, t.params)).get();
    task_work_.push_back(w);
    type_handlers_.add(t.name, WorkFn{w});
  }
}

Assembly::~Assembly() = default;

void Assembly::install(Engine& e) {
  // Periodic loops first: a frame's sense stage reads the first motor.
  for (const config::PeriodicDecl& d : cfg_.periodic) {
    PeriodicSpec spec = d.spec;
    int id = -1;
    if (d.handler == "motor_pid") {
      Motor& m = *motors_.emplace_back(std::make_unique<Motor>(static_cast<double>(spec.period) * 1e-9));
      m.name = spec.name;
      m.faults = d.params;
      if (d.rollback) spec.state = m.loop.binding();
      id = e.add_periodic(spec, MotorFn{&m});
    } else if (is_generic(d.handler)) {
      id = e.add_periodic(spec, WorkFn{work_.emplace_back(make_work(d.handler, d.params)).get()});
    } else {
      throw bad(cfg_, d.line,
                "periodic task '" + spec.name + "': handler '" + d.handler +
                    "' is a workflow stage; loops take motor_pid, work, noop, fail");
    }
    periodic_ids_.push_back(id);
  }
  Motor* first = motors_.empty() ? nullptr : motors_.front().get();
  for (const config::GraphDecl& g : cfg_.graphs) {
    GraphSpec spec = g.spec;
    Frame* frame = nullptr;
    for (std::size_t i = 0; i < spec.nodes.size(); ++i) {
      NodeSpec& n = spec.nodes[i];
      const std::string handler = n.type;
      n.type = spec.name + "/" + n.name;  // each node its own handler: its own params and state
      if (is_generic(handler)) {
        registry_.add(n.type, WorkFn{work_.emplace_back(make_work(handler, g.params[i])).get()});
        continue;
      }
      if (handler == "motor_pid")
        throw bad(cfg_, g.line, "workflow '" + spec.name + "': motor_pid runs only as a periodic task");
      if (frame == nullptr) {
        frame = frames_.emplace_back(std::make_unique<Frame>()).get();
        frame->motor = first;
        if (g.period > 0) frame->dt = static_cast<double>(g.period) * 1e-9;
      }
      if (handler == "sense") registry_.add(n.type, SenseFn{frame});
      if (handler == "estimate") registry_.add(n.type, EstimateFn{frame});
      if (handler == "control") registry_.add(n.type, ControlFn{frame});
      if (handler == "actuate") registry_.add(n.type, ActuateFn{frame});
    }
    const int gi = e.add_graph(spec, registry_);
    graph_ids_.push_back(gi);
    if (g.period > 0) {
      PeriodicSpec ps;
      ps.name = spec.name;
      ps.period = g.period;
      ps.priority = spec.priority;
      ps.worker = g.worker;
      ps.precision = g.precision;
      ps.hybrid_margin = g.hybrid_margin;
      ps.hybrid_margin_cap = g.hybrid_margin_cap;
      ps.hybrid_margin_guard = g.hybrid_margin_guard;
      periodic_ids_.push_back(e.add_periodic_graph(ps, gi));
    }
  }
  for (const config::SagaDecl& s : cfg_.sagas) {
    const int si = e.add_saga(s.spec, registry_);
    if (s.rate <= 0) continue;
    Source src;
    src.saga = si;
    src.interval = interval_of(s.rate);
    sources_.push_back(src);
  }
  for (std::size_t i = 0; i < cfg_.tasks.size(); ++i) {
    const config::TaskDecl& t = cfg_.tasks[i];
    if (t.rate <= 0) continue;
    Source src;
    src.type = e.type_index(t.name);
    src.opts = options_of(e, t);
    src.work = task_work_[i];
    src.interval = interval_of(t.rate);
    sources_.push_back(src);
  }
}

void Assembly::start_periodic(Engine& e) {
  for (const int id : periodic_ids_)
    (void)e.start_periodic(id);
  const ns_t now = hal::now_ns();
  for (Source& s : sources_)
    s.next = now + s.interval;
}

ns_t Assembly::submit_due(Engine& e, Producer& p, ns_t now) {
  ns_t next = now + hal::kNsPerSec;
  for (Source& s : sources_) {
    // At most a second's worth at once: a stalled generator must not flood the rings.
    for (int n = 0; s.next <= now && n < 1000; ++n) {
      s.next += s.interval;
      if (s.saga >= 0) {
        const GraphRunStatus st = e.try_run_saga(p, s.saga);
        (st == GraphRunStatus::Started ? counts_.sagas_started : counts_.sagas_busy) += 1;
        continue;
      }
      s.opts.context.user_id = ++counts_.submitted;
      if (p.try_submit(WorkFn{s.work}, s.opts) != SubmitStatus::Ok) ++counts_.refused;
    }
    if (s.next <= now) s.next = now + s.interval;  // behind by more than the cap: skip ahead
    next = std::min(next, s.next);
  }
  return next;
}

http::Catalog Assembly::catalog(const Engine& e) const {
  http::Catalog c;
  for (const config::TaskDecl& t : cfg_.tasks)
    c.types.push_back(http::Catalog::TaskType{.name = t.name,
                                              .type = static_cast<TypeId>(e.type_index(t.name)),
                                              .fn = handler_for(t.name),
                                              .defaults = options_of(e, t)});
  c.retry_policies = cfg_.retry_policies;
  return c;
}

const TaskFn* Assembly::handler_for(std::string_view type) const { return type_handlers_.find(type); }

}  // namespace rt::cli
