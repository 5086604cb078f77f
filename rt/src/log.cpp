// F22: the JSON-lines logger (rt/log.hpp). Everything here runs on non-RT threads: the
// event bus's dispatcher (write_event) and setup code (log). One mutex serialises the
// lines; each line leaves in one write(2), so lines from two processes appending to one
// file (O_APPEND) do not interleave within a line.
#include "rt/log.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <stdexcept>
#include <system_error>

#include "graph_runtime.hpp"
#include "json_text.hpp"
#include "rt/engine.hpp"
#include "rt/event_bus.hpp"

namespace rt {

namespace {

constexpr std::array<std::string_view, 4> kLevelNames{"debug", "info", "warn", "error"};

bool ran(const Event& ev) noexcept { return ev.value > 0; }

// The state change an event reports, in the F3 state names, where it is one.
std::string_view transition(const Event& ev) noexcept {
  if (ev.subject == Subject::Task) {
    switch (ev.kind) {
      case EventKind::Started:
        return "ready->running";
      case EventKind::Completed:
        return "running->completed";
      // Without an execution time the task never started (a closed gate, a deadline
      // already past at dequeue, a cancel while queued).
      case EventKind::Failed:
        return ran(ev) ? "running->failed" : "ready->failed";
      case EventKind::Timeout:
        return ran(ev) ? "running->timeout" : "ready->timeout";
      case EventKind::Cancelled:
        return ev.reason == Reason::CancelledRunning ? "running->cancelled" : "ready->cancelled";
      case EventKind::RolledBack:
        return ev.reason == Reason::DeadlineMissed ? "timeout->rolled_back" : "failed->rolled_back";
      case EventKind::Retrying:
        return "failed->retrying";
      case EventKind::DeadLettered:
        return "failed->dead_lettered";
      default:
        return {};
    }
  }
  switch (ev.kind) {
    case EventKind::WorkerStalled:
      return "busy->stalled";
    case EventKind::WorkerRecovered:
      return "stalled->idle";
    case EventKind::CircuitOpened:
      return "closed->open";
    case EventKind::CircuitHalfOpen:
      return "open->half_open";
    case EventKind::CircuitClosed:
      return "half_open->closed";
    case EventKind::GateChanged:
      return ev.value != 0 ? "closed->open" : "open->closed";
    default:
      return {};
  }
}

// What Event::value means for this event (event.hpp), as the log's field name; empty when
// it carries nothing to print.
std::string_view value_field(const Event& ev) noexcept {
  switch (ev.kind) {
    case EventKind::Completed:
    case EventKind::Failed:
    case EventKind::Timeout:
    case EventKind::RolledBack:
    case EventKind::Cancelled:
      return ran(ev) ? "duration_us" : std::string_view{};
    case EventKind::PeriodicRun:
    case EventKind::WorkflowCompleted:
    case EventKind::WorkflowFailed:
      return "duration_us";
    case EventKind::DeadlineMiss:
    case EventKind::WorkflowDeadlineMiss:
    case EventKind::WorkerStalled:
    case EventKind::Overrun:
      return "late_us";
    case EventKind::Retrying:
      return "delay_us";
    default:
      return {};
  }
}

bool carries_lateness(const Event& ev) noexcept {
  return ev.subject == Subject::Periodic && (ev.kind == EventKind::PeriodicRun || ev.kind == EventKind::Failed ||
                                             ev.kind == EventKind::Timeout || ev.kind == EventKind::RolledBack);
}

void append_key(std::string& line, std::string_view key) {
  line += ',';
  detail::append_json_string(line, key);
  line += ':';
}

}  // namespace

std::string_view to_string(LogLevel l) noexcept {
  const auto i = static_cast<std::size_t>(l);
  return i < kLevelNames.size() ? kLevelNames[i] : "unknown";
}

bool parse_log_level(std::string_view name, LogLevel& out) noexcept {
  if (name == "warning") name = "warn";
  for (std::size_t i = 0; i < kLevelNames.size(); ++i) {
    if (kLevelNames[i] == name) {
      out = static_cast<LogLevel>(i);
      return true;
    }
  }
  return false;
}

LogLevel event_level(EventKind k) noexcept {
  switch (k) {
    case EventKind::Submitted:
    case EventKind::Started:
    case EventKind::Completed:
    case EventKind::PeriodicRun:
    case EventKind::WorkflowCompleted:
    case EventKind::SagaCompleted:
      return LogLevel::Debug;
    case EventKind::Cancelled:
    case EventKind::Skipped:
    case EventKind::Retrying:
    case EventKind::GateChanged:
    case EventKind::CircuitClosed:
    case EventKind::CircuitHalfOpen:
    case EventKind::WorkerRecovered:
      return LogLevel::Info;
    // An open circuit refuses work: someone should look, as at any violation.
    case EventKind::CircuitOpened:
    case EventKind::Failed:
    case EventKind::Timeout:
    case EventKind::RolledBack:
    case EventKind::DeadlineMiss:
    case EventKind::Overrun:
    case EventKind::WorkflowFailed:
    case EventKind::WorkflowDeadlineMiss:
    case EventKind::SagaCompensated:
      return LogLevel::Warn;
    case EventKind::DeadLettered:
    case EventKind::WorkerStalled:
      return LogLevel::Error;
  }
  return LogLevel::Error;
}

EventMask kinds_at_or_above(LogLevel min) noexcept {
  EventMask m = 0;
  for (unsigned k = 0; k <= static_cast<unsigned>(kLastEventKind); ++k) {
    if (event_level(static_cast<EventKind>(k)) >= min) m |= event_bit(static_cast<EventKind>(k));
  }
  return m;
}

Logger::Logger(Engine& e, LoggerConfig c)
    : engine_(e), cfg_(std::move(c)), wall_offset_(detail::wall_offset_ns()), types_(e.config().task_types) {
  if (cfg_.path.empty() || cfg_.path == "-") {
    fd_ = STDERR_FILENO;
  } else {
    fd_ = ::open(cfg_.path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (fd_ < 0)
      throw std::system_error(errno, std::generic_category(), "rt::Logger: cannot open log file '" + cfg_.path + "'");
    own_fd_ = true;
  }
  line_.reserve(512);
}

Logger::~Logger() {
  try {
    close();
  } catch (...) {  // a destructor must not throw; close() only throws for misuse from a handler
  }
}

void Logger::attach(EventBus& bus) {
  const std::lock_guard lk(attach_mu_);
  if (bus_ != nullptr) throw std::logic_error("rt::Logger::attach: already attached to a bus");
  sub_ =
      bus.subscribe(EventFilter{.kinds = kinds_at_or_above(cfg_.level)}, [this](const Event& ev) { write_event(ev); });
  bus_ = &bus;
  bus_seen_ = true;
}

void Logger::detach() {
  const std::lock_guard lk(attach_mu_);
  if (bus_ == nullptr) return;
  bus_->flush();
  (void)bus_->unsubscribe(sub_);
  const EventBusStats s = bus_->stats();
  bus_polled_ = s.polled;
  bus_delivered_ = s.delivered;
  bus_errors_ = s.subscriber_errors;
  bus_engine_dropped_ = s.engine_dropped;
  bus_ = nullptr;
}

void Logger::close() {
  detach();
  const std::lock_guard lk(mu_);
  if (fd_ < 0) return;
  // A loss is news at any level; a clean close only for those who asked for info.
  const bool lost = engine_.events_dropped() != 0 || bus_errors_ != 0 || stats_.write_errors != 0;
  const LogLevel level = lost ? LogLevel::Warn : LogLevel::Info;
  if (level < cfg_.level) {
    if (own_fd_) ::close(fd_);
    fd_ = -1;
    return;
  }
  std::string& line = line_;
  line.clear();
  append_head(line, hal::now_ns(), level, "log_closed");
  append_key(line, "events_dropped");
  detail::append_int(line, static_cast<std::int64_t>(engine_.events_dropped()));
  if (bus_seen_) {
    append_key(line, "bus_polled");
    detail::append_int(line, static_cast<std::int64_t>(bus_polled_));
    append_key(line, "bus_delivered");
    detail::append_int(line, static_cast<std::int64_t>(bus_delivered_));
    append_key(line, "bus_subscriber_errors");
    detail::append_int(line, static_cast<std::int64_t>(bus_errors_));
    append_key(line, "bus_engine_dropped");
    detail::append_int(line, static_cast<std::int64_t>(bus_engine_dropped_));
  }
  append_key(line, "lines");
  detail::append_int(line, static_cast<std::int64_t>(stats_.lines + 1));  // this one included
  append_key(line, "write_errors");
  detail::append_int(line, static_cast<std::int64_t>(stats_.write_errors));
  line += '}';
  emit(line);
  if (own_fd_) ::close(fd_);
  fd_ = -1;
}

void Logger::log(LogLevel level, std::string_view event, std::string_view message,
                 std::initializer_list<Field> fields) {
  const std::lock_guard lk(mu_);
  if (fd_ < 0) return;
  if (level < cfg_.level) {
    ++stats_.below_level;
    return;
  }
  std::string& line = line_;
  line.clear();
  append_head(line, hal::now_ns(), level, event);
  append_key(line, "message");
  detail::append_json_string(line, message);
  for (const auto& [k, v] : fields) {
    append_key(line, k);
    detail::append_json_string(line, v);
  }
  line += '}';
  emit(line);
}

void Logger::write_event(const Event& ev) {
  if (event_level(ev.kind) < cfg_.level) return;
  const std::lock_guard lk(mu_);
  if (fd_ < 0) return;
  std::string& line = line_;
  line.clear();
  append_head(line, ev.at, event_level(ev.kind), to_string(ev.kind));
  append_event_fields(line, ev);
  line += '}';
  emit(line);
}

std::string Logger::format(const Event& ev) {
  std::string line;
  append_head(line, ev.at, event_level(ev.kind), to_string(ev.kind));
  const std::lock_guard lk(mu_);  // the name caches
  append_event_fields(line, ev);
  line += '}';
  return line;
}

LoggerStats Logger::stats() const {
  const std::lock_guard lk(mu_);
  return stats_;
}

void Logger::append_head(std::string& line, std::int64_t ts, LogLevel level, std::string_view event) const {
  line += "{\"ts_ns\":";
  detail::append_int(line, ts);
  line += ",\"wall\":";
  detail::append_wall(line, ts + wall_offset_);
  append_key(line, "level");
  detail::append_json_string(line, to_string(level));
  append_key(line, "event");
  detail::append_json_string(line, event);
}

void Logger::append_event_fields(std::string& line, const Event& ev) {
  append_key(line, "subject");
  detail::append_json_string(line, to_string(ev.subject));
  append_key(line, "id");
  if (ev.subject == Subject::Task) {
    const TaskId id = TaskId::from_value(ev.id);
    detail::append_json_string(line, std::to_string(id.index) + ":" + std::to_string(id.generation));
  } else {
    detail::append_int(line, static_cast<std::int64_t>(ev.id));
  }
  if (ev.subject == Subject::Workflow && ev.kind != EventKind::WorkflowCompleted &&
      ev.kind != EventKind::WorkflowFailed && ev.kind != EventKind::WorkflowDeadlineMiss) {
    append_key(line, "node");  // a node's event: id is the node's reference
    detail::append_int(line, detail::node_of(static_cast<std::uint32_t>(ev.id)));
  }
  if (const std::string_view name = name_of(ev); !name.empty()) {
    append_key(line, "name");
    detail::append_json_string(line, name);
  }
  if ((ev.subject == Subject::Task || ev.subject == Subject::Periodic) && ev.type < types_.size()) {
    append_key(line, "type");
    detail::append_json_string(line, types_[ev.type]);
  }
  if (ev.workflow != 0) {
    append_key(line, "workflow");
    detail::append_int(line, ev.workflow);
  }
  if (ev.worker >= 0) {
    append_key(line, "worker");
    detail::append_int(line, ev.worker);
  }
  if (const std::string_view t = transition(ev); !t.empty()) {
    append_key(line, "transition");
    detail::append_json_string(line, t);
  }
  if (const std::string_view f = value_field(ev); !f.empty()) {
    append_key(line, f);
    detail::append_us(line, ev.value);
  }
  if (carries_lateness(ev)) {
    append_key(line, "lateness_us");
    detail::append_us(line, ev.aux);
  }
  if (ev.kind == EventKind::SagaCompleted || ev.kind == EventKind::SagaCompensated) {
    append_key(line, "outcome");
    detail::append_json_string(line, to_string(static_cast<SagaOutcome>(ev.value)));
  }
  if (ev.reason != Reason::None) {
    append_key(line, "error");
    detail::append_json_string(line, to_string(ev.reason));
  }
}

// The periodic task's or the graph's name, from caches refreshed when an index is new to
// them (periodic tasks and graphs are added at setup; the queries allocate, which the
// dispatcher may).
std::string_view Logger::name_of(const Event& ev) {
  if (ev.subject == Subject::Periodic) {
    if (ev.id >= periodic_names_.size()) {
      for (std::size_t i = periodic_names_.size(); i < engine_.periodic_count(); ++i)
        periodic_names_.push_back(engine_.periodic_stats(static_cast<int>(i)).name);
    }
    return ev.id < periodic_names_.size() ? std::string_view{periodic_names_[static_cast<std::size_t>(ev.id)]}
                                          : std::string_view{};
  }
  if (ev.subject == Subject::Workflow && ev.workflow != 0) {
    const std::size_t g = ev.workflow - 1;
    if (g >= graph_names_.size()) {
      for (std::size_t i = graph_names_.size(); i < engine_.graph_count(); ++i)
        graph_names_.push_back(engine_.graph_spec(static_cast<int>(i)).name);
    }
    return g < graph_names_.size() ? std::string_view{graph_names_[g]} : std::string_view{};
  }
  return {};
}

void Logger::emit(std::string& line) {
  line += '\n';
  // Erase a live progress line the cursor sits on, so the log line starts at column 0;
  // the progress line is drawn again below it at its next refresh.
  if (cfg_.erase_line) line.insert(0, "\r\x1b[K");
  // One write: a short count on a regular file or a pipe of this size means the disk or
  // the reader is gone, not a partial line worth finishing.
  const ssize_t n = ::write(fd_, line.data(), line.size());
  if (n != static_cast<ssize_t>(line.size())) {
    ++stats_.write_errors;
  } else {
    ++stats_.lines;
  }
}

}  // namespace rt
