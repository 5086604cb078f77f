// F23: the trace recorder (rt/trace.hpp). record() runs on the event bus's dispatcher and
// copies an event into the preallocated window under a mutex only export shares; export
// formats on the caller's thread from a copy, so a long write never holds up the bus.
#include "rt/trace.hpp"

#include <algorithm>
#include <cerrno>
#include <fstream>
#include <stdexcept>
#include <system_error>
#include <utility>

#include "graph_runtime.hpp"
#include "json_text.hpp"
#include "rt/engine.hpp"
#include "rt/event_bus.hpp"
#include "rt/version.hpp"

namespace rt {

namespace {

// Chrome trace ids: one process; a worker's track is its index, then the monitor's (events
// from no worker go there too), then one track per graph.
constexpr int kPid = 1;
constexpr std::int64_t kMonitorTid = 1000;
constexpr std::int64_t kGraphTid0 = 2000;

bool is_graph_run(const Event& ev) noexcept {
  return ev.subject == Subject::Workflow &&
         (ev.kind == EventKind::WorkflowCompleted || ev.kind == EventKind::WorkflowFailed);
}

// A span drawn from one event: it carries its own duration (event.hpp).
bool is_span(const Event& ev) noexcept {
  if (ev.value <= 0) return false;
  if (ev.kind == EventKind::PeriodicRun || is_graph_run(ev)) return true;
  return ev.subject == Subject::Task && (ev.kind == EventKind::Completed || ev.kind == EventKind::Failed ||
                                         ev.kind == EventKind::Timeout || ev.kind == EventKind::Cancelled);
}

ns_t start_of(const Event& ev) noexcept { return is_span(ev) ? ev.at - ev.value : ev.at; }

std::int64_t track_of(const Event& ev) noexcept {
  if (ev.subject == Subject::Workflow && ev.workflow != 0 && ev.kind != EventKind::WorkflowDeadlineMiss)
    return kGraphTid0 + ev.workflow - 1;
  // The monitor finds these, whichever worker they concern.
  if (ev.kind == EventKind::WorkerStalled || ev.kind == EventKind::WorkflowDeadlineMiss || ev.worker < 0)
    return kMonitorTid;
  return ev.worker;
}

void append_meta(std::string& out, std::string_view what, std::int64_t tid, std::string_view name, bool& first) {
  out += first ? "\n" : ",\n";
  first = false;
  out += "{\"ph\":\"M\",\"pid\":";
  detail::append_int(out, kPid);
  out += ",\"tid\":";
  detail::append_int(out, tid);
  out += ",\"name\":";
  detail::append_json_string(out, what);
  out += ",\"args\":{\"name\":";
  detail::append_json_string(out, name);
  out += "}}";
}

void append_arg(std::string& out, std::string_view key, std::string_view value, bool& first_arg) {
  out += first_arg ? "" : ",";
  first_arg = false;
  detail::append_json_string(out, key);
  out += ':';
  detail::append_json_string(out, value);
}

void append_arg_us(std::string& out, std::string_view key, ns_t value, bool& first_arg) {
  out += first_arg ? "" : ",";
  first_arg = false;
  detail::append_json_string(out, key);
  out += ':';
  detail::append_us(out, value);
}

void append_arg_int(std::string& out, std::string_view key, std::int64_t value, bool& first_arg) {
  out += first_arg ? "" : ",";
  first_arg = false;
  detail::append_json_string(out, key);
  out += ':';
  detail::append_int(out, value);
}

std::string_view lookup(const std::vector<std::string>& names, std::uint64_t i, std::string_view fallback) noexcept {
  return i < names.size() ? std::string_view{names[static_cast<std::size_t>(i)]} : fallback;
}

}  // namespace

TraceRecorder::TraceRecorder(Engine& e, TraceConfig c) : engine_(e), cfg_(c), types_(e.config().task_types) {
  if (cfg_.capacity == 0) throw std::invalid_argument("TraceConfig::capacity must be at least 1");
  ring_.resize(cfg_.capacity);
  for (std::size_t i = 0; i < e.config().workers.size(); ++i)
    worker_names_.push_back("worker " + std::to_string(i));
  read_names();
}

TraceRecorder::~TraceRecorder() {
  try {
    detach();
  } catch (...) {  // a destructor must not throw; detach only throws for misuse from a handler
  }
}

void TraceRecorder::read_names() {
  periodic_names_.clear();
  for (std::size_t i = 0; i < engine_.periodic_count(); ++i)
    periodic_names_.push_back(engine_.periodic_stats(static_cast<int>(i)).name);
  graph_names_.clear();
  for (std::size_t i = 0; i < engine_.graph_count(); ++i)
    graph_names_.push_back(engine_.graph_spec(static_cast<int>(i)).name);
}

void TraceRecorder::attach(EventBus& bus) {
  const std::lock_guard lk(attach_mu_);
  if (bus_ != nullptr) throw std::logic_error("rt::TraceRecorder::attach: already attached to a bus");
  {
    const std::lock_guard names(mu_);  // export reads the names
    read_names();
  }
  sub_ = bus.subscribe(EventFilter{.kinds = cfg_.kinds}, [this](const Event& ev) { record(ev); });
  bus_ = &bus;
}

void TraceRecorder::detach() {
  const std::lock_guard lk(attach_mu_);
  if (bus_ == nullptr) return;
  bus_->flush();
  (void)bus_->unsubscribe(sub_);
  bus_ = nullptr;
}

void TraceRecorder::record(const Event& ev) {
  const std::lock_guard lk(mu_);
  ++recorded_;
  if (size_ < ring_.size()) {
    ring_[(head_ + size_) % ring_.size()] = ev;
    ++size_;
  } else {  // full: the newest replaces the oldest
    ring_[head_] = ev;
    head_ = (head_ + 1) % ring_.size();
  }
}

TraceStats TraceRecorder::stats() const {
  const std::lock_guard lk(mu_);
  return {.recorded = recorded_, .overwritten = recorded_ - size_, .kept = size_};
}

TraceRecorder::Snapshot TraceRecorder::snapshot() const {
  Snapshot snap;
  {
    const std::lock_guard lk(mu_);
    snap.events.reserve(size_);
    for (std::size_t i = 0; i < size_; ++i)
      snap.events.push_back(ring_[(head_ + i) % ring_.size()]);
    snap.periodic_names = periodic_names_;
    snap.graph_names = graph_names_;
    snap.stats = {.recorded = recorded_, .overwritten = recorded_ - size_, .kept = size_};
  }
  std::vector<Event>& evs = snap.events;
  if (cfg_.window > 0 && !evs.empty()) {
    ns_t newest = evs.front().at;
    for (const Event& ev : evs)
      newest = std::max(newest, ev.at);
    std::erase_if(evs, [&](const Event& ev) { return ev.at < newest - cfg_.window; });
  }
  // By start, ties in arrival order: a stable sort made of std::sort on (start, position),
  // since std::stable_sort's get_temporary_buffer is deprecated under clang 22 +
  // libstdc++ 12 (event_bus.cpp), and a span can start long before events that came first.
  std::vector<std::pair<ns_t, std::size_t>> order(evs.size());
  for (std::size_t i = 0; i < evs.size(); ++i)
    order[i] = {start_of(evs[i]), i};
  std::sort(order.begin(), order.end());
  std::vector<Event> sorted;
  sorted.reserve(evs.size());
  for (const auto& [start, i] : order)
    sorted.push_back(evs[i]);
  evs = std::move(sorted);
  return snap;
}

std::string TraceRecorder::to_json() const {
  // Formatted from a copy: a long export never holds up the dispatcher's record().
  const Snapshot snap = snapshot();
  const std::vector<Event>& evs = snap.events;
  const std::vector<std::string>& periodic_names = snap.periodic_names;
  const std::vector<std::string>& graph_names = snap.graph_names;
  // ts 0 is the window's first moment: the earliest start, so no ts is negative.
  const ns_t base = evs.empty() ? 0 : start_of(evs.front());
  std::string out;
  out.reserve(256 + evs.size() * 200);
  out += "{\"traceEvents\":[";
  bool first = true;
  append_meta(out, "process_name", 0, "rtengine", first);
  for (std::size_t i = 0; i < worker_names_.size(); ++i)
    append_meta(out, "thread_name", static_cast<std::int64_t>(i), worker_names_[i], first);
  append_meta(out, "thread_name", kMonitorTid, "monitor", first);
  for (std::size_t g = 0; g < graph_names.size(); ++g)
    append_meta(out, "thread_name", kGraphTid0 + static_cast<std::int64_t>(g), "graph " + graph_names[g], first);
  for (const Event& ev : evs) {
    const bool span = is_span(ev);
    out += ",\n{\"ph\":";
    out += span ? "\"X\"" : "\"i\"";
    out += ",\"pid\":";
    detail::append_int(out, kPid);
    out += ",\"tid\":";
    detail::append_int(out, track_of(ev));
    out += ",\"ts\":";
    detail::append_us(out, start_of(ev) - base);
    if (span) {
      out += ",\"dur\":";
      detail::append_us(out, std::max<ns_t>(ev.value, 0));
    } else {
      out += ",\"s\":\"t\"";
    }
    std::string name;
    std::string_view cat = "event";
    if (ev.kind == EventKind::PeriodicRun) {
      name = lookup(periodic_names, ev.id, "periodic");
      cat = "periodic";
    } else if (is_graph_run(ev)) {
      name = lookup(graph_names, ev.workflow - 1, "graph");
      cat = "graph";
    } else if (span) {
      name = lookup(types_, ev.type, "task");
      cat = "task";
    } else {
      name = to_string(ev.kind);
    }
    out += ",\"name\":";
    detail::append_json_string(out, name);
    out += ",\"cat\":";
    detail::append_json_string(out, cat);
    out += ",\"args\":{";
    bool first_arg = true;
    append_arg(out, "event", to_string(ev.kind), first_arg);
    append_arg(out, "subject", to_string(ev.subject), first_arg);
    if (ev.subject == Subject::Task) {
      const TaskId id = TaskId::from_value(ev.id);
      append_arg(out, "id", std::to_string(id.index) + ":" + std::to_string(id.generation), first_arg);
    } else if (ev.subject == Subject::Periodic) {
      append_arg(out, "periodic", lookup(periodic_names, ev.id, "periodic"), first_arg);
    } else if (ev.subject == Subject::Workflow && ev.workflow != 0) {
      append_arg(out, "graph", lookup(graph_names, ev.workflow - 1, "graph"), first_arg);
      if (!is_graph_run(ev) && ev.kind != EventKind::WorkflowDeadlineMiss)
        append_arg_int(out, "node", detail::node_of(static_cast<std::uint32_t>(ev.id)), first_arg);
    } else {
      append_arg_int(out, "id", static_cast<std::int64_t>(ev.id), first_arg);
    }
    if (ev.worker >= 0) append_arg_int(out, "worker", ev.worker, first_arg);
    if (ev.subject == Subject::Periodic && (ev.kind == EventKind::PeriodicRun || ev.kind == EventKind::Failed ||
                                            ev.kind == EventKind::Timeout || ev.kind == EventKind::RolledBack))
      append_arg_us(out, "lateness_us", ev.aux, first_arg);
    if (!span && ev.value != 0 && ev.kind != EventKind::GateChanged && ev.kind != EventKind::SagaCompleted &&
        ev.kind != EventKind::SagaCompensated)
      append_arg_us(out, "value_us", ev.value, first_arg);  // how late, how long (event.hpp)
    if (ev.reason != Reason::None) append_arg(out, "error", to_string(ev.reason), first_arg);
    out += "}}";
  }
  const TraceStats& st = snap.stats;
  out += "\n],\"displayTimeUnit\":\"ms\",\"otherData\":{\"engine\":\"rtengine\",\"version\":";
  detail::append_json_string(out, version());
  out += ",\"clock\":\"CLOCK_MONOTONIC\",\"base_ns\":";
  detail::append_int(out, base);
  out += ",\"capacity\":";
  detail::append_int(out, static_cast<std::int64_t>(cfg_.capacity));
  out += ",\"window_ns\":";
  detail::append_int(out, cfg_.window);
  out += ",\"recorded\":";
  detail::append_int(out, static_cast<std::int64_t>(st.recorded));
  out += ",\"overwritten\":";
  detail::append_int(out, static_cast<std::int64_t>(st.overwritten));
  out += ",\"exported\":";
  detail::append_int(out, static_cast<std::int64_t>(evs.size()));
  out += ",\"engine_events_dropped\":";
  detail::append_int(out, static_cast<std::int64_t>(engine_.events_dropped()));
  out += "}}\n";
  return out;
}

void TraceRecorder::write(std::ostream& out) const { out << to_json(); }

void TraceRecorder::write_file(const std::string& path) const {
  const std::string json = to_json();
  std::ofstream f(path, std::ios::out | std::ios::trunc | std::ios::binary);
  if (!f) throw std::system_error(errno, std::generic_category(), "rt::TraceRecorder: cannot open '" + path + "'");
  f.write(json.data(), static_cast<std::streamsize>(json.size()));
  f.flush();
  if (!f) throw std::system_error(errno, std::generic_category(), "rt::TraceRecorder: cannot write '" + path + "'");
}

}  // namespace rt
