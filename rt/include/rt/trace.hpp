#pragma once
// F23: the run's schedule as Chrome trace-event JSON, which Perfetto (ui.perfetto.dev) and
// chrome://tracing open.
//
// RT threads publish fixed-size events into the engine's ring as always; an EventBus's
// dispatcher (non-RT) copies them into the recorder's window, a ring of `capacity` events
// allocated at setup, which keeps the newest and overwrites the oldest. Export, on any
// non-RT thread, turns the window (optionally only its last `window` ns) into:
//   "M" metadata: the process, one thread per worker ("worker 0", ...), "monitor", and a
//       track per graph ("graph NAME");
//   "X" complete spans (ts, dur in microseconds from the window's first event): one-shot
//       task runs (from their outcome event and its execution time), periodic runs (named
//       after the periodic task, with their release lateness), graph runs;
//   "i" instants: deadline misses, rollbacks, overruns, stalls, recoveries, dead letters,
//       retries, gate and circuit changes, saga ends.
//
//   rt::Engine engine(cfg);
//   rt::EventBus bus(engine);
//   rt::TraceRecorder trace(engine, {.capacity = 100'000, .window = 10 * hal::kNsPerSec});
//   trace.attach(bus);            // after add_periodic / add_graph: their names are read here
//   bus.start();
//   engine.start(); ... engine.stop(rt::StopMode::Drain);
//   trace.detach();               // flushes the bus
//   trace.write_file("run.trace.json");
#include <cstddef>
#include <cstdint>
#include <mutex>
#include <ostream>
#include <string>
#include <vector>

#include "rt/event.hpp"

namespace rt {

class Engine;
class EventBus;

// What a trace records by default: everything but Submitted and Started (a span is drawn
// from its outcome event, which carries the execution time).
inline constexpr EventMask kTraceEvents =
    kAllEvents & ~(event_bit(EventKind::Submitted) | event_bit(EventKind::Started));

struct TraceConfig {
  std::size_t capacity = 65536;  // events kept (the newest); at least 1
  ns_t window = 0;               // export only the events of the last `window` ns before the newest; 0: all kept
  EventMask kinds = kTraceEvents;
};

struct TraceStats {
  std::uint64_t recorded = 0;     // events taken in
  std::uint64_t overwritten = 0;  // of those, pushed out of the window by newer ones
  std::size_t kept = 0;           // in the window now
};

class TraceRecorder {
 public:
  // Setup: allocates the window and reads the workers', periodic tasks' and graphs' names.
  // Throws std::invalid_argument for a zero capacity. `e` must outlive the recorder.
  TraceRecorder(Engine& e, TraceConfig c = {});
  ~TraceRecorder();  // detach()
  TraceRecorder(const TraceRecorder&) = delete;
  TraceRecorder& operator=(const TraceRecorder&) = delete;

  // Setup: subscribes to `bus` for the configured kinds (and re-reads the names, for
  // periodic tasks and graphs added since construction). One bus at a time (throws
  // std::logic_error). `bus` must outlive the attachment (declare the recorder after it).
  void attach(EventBus& bus);
  // Flushes the bus (what was published before is recorded), then unsubscribes.
  void detach();

  // Into the window (the subscription's handler; also callable directly). No allocation.
  void record(const Event& ev);

  // Non-RT, any thread: the trace as one JSON object, {"traceEvents":[...],
  // "displayTimeUnit":"ms","otherData":{...}}. Events are sorted by time.
  void write(std::ostream& out) const;
  [[nodiscard]] std::string to_json() const;
  // Writes to `path` (truncated, created if missing); throws std::system_error naming the
  // path when it cannot be written.
  void write_file(const std::string& path) const;

  [[nodiscard]] TraceStats stats() const;

 private:
  // What export formats: the window's events (sorted, cut to `window`), names, counts.
  struct Snapshot {
    std::vector<Event> events;
    std::vector<std::string> periodic_names, graph_names;
    TraceStats stats;
  };
  void read_names();  // caller holds mu_ (or is the constructor)
  [[nodiscard]] Snapshot snapshot() const;

  Engine& engine_;
  const TraceConfig cfg_;
  std::vector<std::string> worker_names_, types_;

  mutable std::mutex mu_;  // the window, the counters, the names attach re-reads
  std::vector<std::string> periodic_names_, graph_names_;
  std::vector<Event> ring_;
  std::size_t head_ = 0;  // the oldest kept event
  std::size_t size_ = 0;
  std::uint64_t recorded_ = 0;

  std::mutex attach_mu_;
  EventBus* bus_ = nullptr;
  int sub_ = 0;
};

}  // namespace rt
