// `rtengine run`: config -> engine -> the run -> a clean stop -> the report.
#include <algorithm>
#include <atomic>
#include <csignal>
#include <memory>
#include <ostream>

#include "assembly.hpp"
#include "cli.hpp"
#include "hal/clock.hpp"
#include "report.hpp"
#include "restart.hpp"
#include "rt/event_bus.hpp"
#include "rt/trace.hpp"
#include "serve.hpp"
#include "service.hpp"
#include "signals.hpp"

namespace rt::cli {

namespace {

// What the OS really gave the workers, in one phrase.
std::string rt_mode(const EngineConfig& c, const Stats& s) {
  bool wanted = false;
  for (const WorkerConfig& w : c.workers)
    wanted = wanted || w.priority > 0;
  if (!wanted) return "SCHED_OTHER (no worker has a SCHED_FIFO priority in the config)";
  for (const WorkerStats& w : s.workers) {
    if (w.applied.degraded()) {
      const hal::Status& why = !w.applied.sched.ok() ? w.applied.sched : w.applied.affinity;
      return "degraded: worker " + std::to_string(w.index) + ": " + why.message();
    }
  }
  return "SCHED_FIFO";
}

Progress progress(Engine& e, const Assembly& as, ns_t started) {
  Progress p;
  p.uptime_s = static_cast<double>(hal::now_ns() - started) * 1e-9;
  for (const int id : as.periodic_ids()) {
    const PeriodicStats ps = e.periodic_stats(id);
    p.releases += ps.releases;
    p.misses += ps.deadline_misses;
    p.rollbacks += ps.rollbacks;
    p.p99_jitter_us = std::max(p.p99_jitter_us, static_cast<double>(ps.jitter.p99) * 1e-3);
  }
  const Stats s = e.stats();
  p.rollbacks += s.rolled_back;
  p.retries = s.retries;
  p.dead_lettered = s.dead_lettered;
  for (const std::int64_t d : s.queue_depth)
    p.queue_depth += d;
  return p;
}

}  // namespace

int run(const RunOptions& o, std::ostream& out, std::ostream& err) {
  const config::LoadOptions lo = load_options();
  config::LoadResult lr =
      o.config.empty() ? config::parse(config::default_text(), "<built-in>", lo) : config::load(o.config, lo);
  if (!lr.ok()) {
    for (const config::Diagnostic& d : lr.errors)
      err << d.str() << "\n";
    return kExitFailed;
  }
  config::AppConfig& c = lr.config;
  if (o.duration >= 0) c.run.duration = o.duration;
  if (!o.log_level.empty()) c.logging.level = o.log_level;
  if (!o.log_file.empty()) c.logging.destination = o.log_file;
  if (!o.trace.empty()) c.tracing.file = o.trace;
  if (!o.journal.empty()) c.journal.path = o.journal;
  if (o.http_port >= 0) {
    c.http.enabled = true;
    c.http.port = o.http_port;
  }

  try {
    Assembly as(c);
    // The monitor beats only under a watchdog that reads it: otherwise it sleeps until its
    // next deadline, with no wake-up at the top RT priority that nobody asked for.
    if (wants_monitor_beat(c.service)) c.engine.monitor.beat = Engine::kMonitorBeat;
    Engine engine(c.engine);
    as.install(engine);

    // Frame latency per workflow, recorded off the RT path from the completion events.
    std::vector<std::unique_ptr<Histogram>> frames;
    for (std::size_t i = 0; i < c.graphs.size(); ++i)
      frames.push_back(std::make_unique<Histogram>());
    // Before what attaches to it. The history serves GET /events: the kinds the engine
    // publishes anyway, not one event per task or per periodic run.
    EventBus bus(engine, EventBusConfig{.history = c.http.enabled ? std::size_t{1024} : 0,
                                        .history_kinds = kDefaultEventInterest});
    LoggerConfig lc;
    (void)parse_log_level(c.logging.level, lc.level);  // checked by the loader
    lc.path = c.logging.destination == "stderr" ? "" : c.logging.destination;
    lc.erase_line = o.live && lc.path.empty();  // shares the terminal with the progress line
    Logger log(engine, lc);
    log.attach(bus);
    std::unique_ptr<TraceRecorder> trace;
    if (!c.tracing.file.empty()) {
      trace = std::make_unique<TraceRecorder>(
          engine, TraceConfig{.capacity = c.tracing.window_events, .window = c.tracing.window});
      trace->attach(bus);
    }
    bus.subscribe(EventFilter{.kinds = event_bit(EventKind::WorkflowCompleted) | event_bit(EventKind::WorkflowFailed)},
                  [&frames](const Event& ev) {
                    if (ev.workflow >= 1 && ev.workflow <= frames.size()) frames[ev.workflow - 1]->record(ev.value);
                  });

    // Under systemd: READY=1 and the watchdog rule (service.hpp). Its pets go from this
    // thread's loop below, which wakes at least every 50 ms.
    const auto health = [&engine] { return engine.health(); };
    Service service(c.service, health, &log);
    service.preflight();

    std::unique_ptr<HttpFront> http;
    if (c.http.enabled) {
      http = std::make_unique<HttpFront>(c, engine, as, bus, log, frames);
      // Before anything runs: a port in use ends the run here, before a loop released or
      // a journaled task ran again (whose journal would then not be rewritten).
      http->bind();
    }

    SignalGuard signals;
    {
      // The engine's threads (workers, monitor, dispatcher) never take these signals: a
      // SCHED_FIFO worker interrupted for the run's flag would pay for it in latency.
      sigset_t block, before;
      sigemptyset(&block);
      sigaddset(&block, SIGINT);
      sigaddset(&block, SIGTERM);
      pthread_sigmask(SIG_BLOCK, &block, &before);
      try {
        bus.start();
        engine.start();
      } catch (...) {
        pthread_sigmask(SIG_SETMASK, &before, nullptr);
        throw;
      }
      pthread_sigmask(SIG_SETMASK, &before, nullptr);
    }
    Producer producer = engine.make_producer();
    std::vector<JournalEntry> kept = restore_journal(c, engine, producer, as, log, err);
    as.start_periodic(engine);
    const ns_t started = hal::now_ns();
    const std::string mode = rt_mode(c.engine, engine.stats());
    // Degraded: hal has said so, once, with the reason and the fix; the report repeats it.
    log.log(LogLevel::Info, "run_started", "the engine runs", {{"config", c.source}, {"rt_mode", mode}});
    if (http) {
      http->start();  // its threads are not the engine's: they may take the run's signals
      if (o.on_listening) o.on_listening(http->port());
    }
    service.ready("running, " + mode + (http ? ", HTTP API on port " + std::to_string(http->port()) : ""));
    if (o.on_started) o.on_started();

    const ns_t end = c.run.duration > 0 ? started + c.run.duration : INT64_MAX;
    const ns_t every = o.live ? c.run.progress : c.run.progress_plain;
    ns_t next_progress = started + every;
    for (ns_t now = started; caught_signal().load(std::memory_order_relaxed) == 0 && now < end; now = hal::now_ns()) {
      const ns_t due = as.submit_due(engine, producer, now);
      const ns_t pet = service.tick(now);
      if (now >= next_progress) {
        const std::string line = progress_line(progress(engine, as, started));
        err << (o.live ? "\r\x1b[K" : "") << line << (o.live ? "" : "\n") << std::flush;
        service.status(line);
        next_progress = now + every;
      }
      // Wake for the next submission, the next line, the next pet, the end, or a signal
      // within 50 ms.
      (void)hal::sleep_until(std::min({due, next_progress, pet, end, now + 50 * hal::kNsPerMs}));
    }
    if (o.live) err << "\n";
    const ns_t ran = hal::now_ns() - started;

    service.stopping(caught_signal().load(std::memory_order_relaxed) != 0 ? "stopping: a signal came"
                                                                          : "stopping: the run's duration is over");
    if (http) http->stopping();  // reads go on; changes get 503 while the engine stops
    std::vector<UnrunTask> unrun;
    const StopReport stop = engine.stop(c.run.stop, c.journal.path.empty() ? nullptr : &unrun);
    (void)save_journal(c, engine, unrun, std::move(kept), log, err);
    if (http) http->stop();
    bus.stop();
    if (trace) {
      trace->detach();
      try {  // the run worked: an unwritable trace is a warning, not a lost report
        trace->write_file(c.tracing.file);
        err << "rtengine run: trace of the last " << trace->stats().kept << " events written to " << c.tracing.file
            << " (open it in https://ui.perfetto.dev)\n";
      } catch (const std::exception& ex) {
        err << "rtengine run: no trace written: " << ex.what() << "\n";
      }
    }
    log.log(LogLevel::Info, "run_stopped", stop.balanced ? "every task accounted for" : "tasks unaccounted for",
            {{"submitted", std::to_string(stop.stats.submitted)}, {"outcomes", std::to_string(stop.stats.outcomes())}});
    log.close();

    RunReport r;
    r.duration_s = static_cast<double>(ran) * 1e-9;
    r.rt_mode = mode;
    for (const int id : as.periodic_ids())
      r.loops.push_back(loop_report(engine.periodic_stats(id), engine.periodic_jitter(id)));
    for (std::size_t i = 0; i < as.graph_ids().size(); ++i)
      r.graphs.push_back(graph_report(engine.graph_stats(as.graph_ids()[i]), frames[i]->snapshot()));
    r.tasks = task_report(stop.stats);
    if (!as.motors().empty()) r.tracking = tracking_report(as.motors().front()->loop.value.tracking);
    r.events_dropped = stop.stats.events_dropped;
    if (o.json) {
      out << report_json(r).dump(2) << "\n";
    } else {
      print_report(r, out);
    }
    if (!stop.balanced) {
      err << "rtengine run: the stop left tasks unaccounted for (submitted " << stop.stats.submitted << ", outcomes "
          << stop.stats.outcomes() << ")\n";
      return kExitFailed;
    }
    return kExitOk;
  } catch (const std::exception& e) {
    err << "rtengine run: " << e.what() << "\n";
    return kExitFailed;
  }
}

}  // namespace rt::cli
