// [engine], [monitor] and the settings sections ([run], [logging], [tracing], [journal],
// [http], [metrics], [service]).
#include "load_sections.hpp"

namespace rt::config::detail {

namespace {

constexpr ns_t kHour = 3600 * hal::kNsPerSec;
constexpr std::int64_t kMaxCount = 1 << 24;

bool classes(Reader& r, const toml::table& t, const std::string& path, ClassMask& out) {
  const toml::node* n = t.get("classes");
  if (n == nullptr) return false;
  if (n->is_string() && n->as_string()->get() == "all") {
    out = kAllClasses;
    return true;
  }
  std::vector<std::string> names;
  if (!r.strings(t, "classes", path, names)) return false;
  ClassMask m = 0;
  bool ok = true;
  for (const std::string& s : names) {
    const int p = priority_index(s);
    if (p < 0) {
      r.error(*n, join(path, "classes"),
              "expected \"all\" or an array of \"critical\", \"high\", \"normal\", \"low\", \"background\"; found \"" +
                  s + "\"");
      ok = false;
      continue;
    }
    m = static_cast<ClassMask>(m | (1U << p));
  }
  if (ok) out = m;
  return ok;
}

void workers(Reader& r, const toml::table& e, EngineConfig& c) {
  const auto ws = r.tables(e, "worker", "engine");
  if (ws.empty()) return;
  c.workers.clear();
  for (std::size_t i = 0; i < ws.size(); ++i) {
    const toml::table& w = *ws[i];
    const std::string path = indexed("engine.worker", i);
    r.only(w, path, {"cpu", "priority", "classes", "idle_spin"});
    WorkerConfig wc;
    r.integer_as(w, "cpu", path, -1, 4095, wc.cpu);
    r.integer_as(w, "priority", path, 0, 99, wc.priority);
    r.duration(w, "idle_spin", path, 0, hal::kNsPerSec, wc.idle_spin);  // absent: the engine's
    classes(r, w, path, wc.classes);
    c.workers.push_back(wc);
  }
  if (ws.size() > 256) r.error(e.source(), "engine.worker", "at most 256 workers");
}

// [engine.<key>]: a capacity per priority class, each optional.
void per_class(Reader& r, const toml::table& e, const std::string& key, std::int64_t min,
               std::array<std::size_t, kClassCount>& out) {
  const toml::table* t = r.table(e, key, "engine");
  if (t == nullptr) return;
  const std::string path = "engine." + key;
  r.only(*t, path, {"critical", "high", "normal", "low", "background"});
  for (std::size_t k = 0; k < kClassCount; ++k)
    r.integer_as(*t, to_string(static_cast<Priority>(k)), path, min, 1 << 20, out[k]);
}

}  // namespace

int priority_index(std::string_view s) {
  // The engine's own names (rt::to_string), so config and engine never disagree.
  for (std::size_t k = 0; k < kClassCount; ++k)
    if (to_string(static_cast<Priority>(k)) == s) return static_cast<int>(k);
  return -1;
}

bool priority(Reader& r, const toml::table& t, const std::string& path, Priority& out) {
  int idx = 0;
  if (!r.choice(t, "priority", path, {"critical", "high", "normal", "low", "background"}, idx)) return false;
  out = static_cast<Priority>(idx);
  return true;
}

void load_engine(Reader& r, const toml::table& root, AppConfig& app) {
  EngineConfig& c = app.engine;
  if (const toml::table* e = r.table(root, "engine", "")) {
    r.only(*e, "engine",
           {"worker", "initial_workers", "ring_capacity", "post_capacity", "max_tasks", "retain_completed",
            "max_producers", "arena_bytes", "lock_memory", "idle_spin", "gates", "event_capacity", "max_periodic",
            "max_graphs", "max_sagas", "dead_letter_capacity", "pm_qos"});
    workers(r, *e, c);
    r.integer_as(*e, "initial_workers", "engine", 0, 256, c.initial_workers);
    per_class(r, *e, "ring_capacity", 1, c.ring_capacity);
    // Producer::try_post's rings: 0 (the default) leaves a class without one.
    per_class(r, *e, "post_capacity", 0, c.post_capacity);
    r.integer_as(*e, "max_tasks", "engine", 1, kMaxCount, c.max_tasks);
    r.integer_as(*e, "retain_completed", "engine", 0, kMaxCount, c.retain_completed);
    r.integer_as(*e, "max_producers", "engine", 1, 1024, c.max_producers);
    r.integer_as(*e, "arena_bytes", "engine", 0, std::int64_t{1} << 40, c.arena_bytes);
    r.boolean(*e, "lock_memory", "engine", c.lock_memory);
    r.duration(*e, "idle_spin", "engine", 0, hal::kNsPerSec, c.idle_spin);
    std::vector<std::string> gates;
    if (r.strings(*e, "gates", "engine", gates)) {
      if (gates.size() > 64) r.error(Reader::where(*e, "gates"), "engine.gates", "at most 64 gates");
      for (std::size_t i = 0; i < gates.size(); ++i) {
        for (std::size_t j = 0; j < i; ++j) {
          if (gates[i] == gates[j])
            r.error(Reader::where(*e, "gates"), "engine.gates", "gate '" + gates[i] + "' is listed twice");
        }
      }
      c.gates = gates;
    }
    r.integer_as(*e, "event_capacity", "engine", 1, 1 << 20, c.event_capacity);
    r.integer_as(*e, "max_periodic", "engine", 0, 4096, c.max_periodic);
    r.integer_as(*e, "max_graphs", "engine", 0, 4096, c.max_graphs);
    r.integer_as(*e, "max_sagas", "engine", 0, 4096, c.max_sagas);
    r.integer_as(*e, "dead_letter_capacity", "engine", 1, kMaxCount, c.dead_letter_capacity);
    if (const toml::table* q = r.table(*e, "pm_qos", "engine")) {
      r.only(*q, "engine.pm_qos", {"enabled", "latency_us"});
      r.boolean(*q, "enabled", "engine.pm_qos", c.pm_qos.enabled);
      r.integer_as(*q, "latency_us", "engine.pm_qos", 0, 1'000'000, c.pm_qos.latency_us);
    }
  }
  if (const toml::table* m = r.table(root, "monitor", "")) {
    r.only(*m, "monitor", {"backend", "priority", "cpu", "stall_after", "escalation", "exit_code"});
    int idx = 0;
    if (r.choice(*m, "backend", "monitor", {"timerfd", "io_uring"}, idx))
      c.monitor.backend = idx == 0 ? hal::TimerBackend::TimerFd : hal::TimerBackend::IoUring;
    r.integer_as(*m, "priority", "monitor", -1, 99, c.monitor.priority);
    r.integer_as(*m, "cpu", "monitor", -1, 4095, c.monitor.cpu);
    r.duration(*m, "stall_after", "monitor", hal::kNsPerUs, kHour, c.monitor.stall_after);
    if (r.choice(*m, "escalation", "monitor", {"report", "exit"}, idx))
      c.monitor.escalation = idx == 0 ? Escalation::Report : Escalation::Exit;
    r.integer_as(*m, "exit_code", "monitor", 1, 255, c.monitor.exit_code);
  }
}

void load_settings(Reader& r, const toml::table& root, AppConfig& app) {
  if (const toml::table* t = r.table(root, "run", "")) {
    r.only(*t, "run", {"duration", "progress", "progress_plain", "stop"});
    r.duration(*t, "duration", "run", 0, ns_t{365} * 24 * kHour, app.run.duration);
    r.duration(*t, "progress", "run", 10 * hal::kNsPerMs, kHour, app.run.progress);
    r.duration(*t, "progress_plain", "run", 100 * hal::kNsPerMs, kHour, app.run.progress_plain);
    int idx = 0;
    if (r.choice(*t, "stop", "run", {"drain", "cancel"}, idx))
      app.run.stop = idx == 0 ? StopMode::Drain : StopMode::Cancel;
  }
  if (const toml::table* t = r.table(root, "logging", "")) {
    r.only(*t, "logging", {"level", "destination"});
    int idx = 0;
    static constexpr std::string_view kLevels[] = {"debug", "info", "warn", "error"};
    if (r.choice(*t, "level", "logging", {"debug", "info", "warn", "error"}, idx)) app.logging.level = kLevels[idx];
    if (r.string(*t, "destination", "logging", app.logging.destination) && app.logging.destination.empty())
      r.error(Reader::where(*t, "destination"), "logging.destination",
              "expected \"stderr\" or a file path, found \"\"");
  }
  if (const toml::table* t = r.table(root, "tracing", "")) {
    r.only(*t, "tracing", {"file", "window_events", "window"});
    r.string(*t, "file", "tracing", app.tracing.file);
    r.integer_as(*t, "window_events", "tracing", 16, 1 << 24, app.tracing.window_events);
    r.duration(*t, "window", "tracing", hal::kNsPerMs, kHour, app.tracing.window);
  }
  if (const toml::table* t = r.table(root, "journal", "")) {
    r.only(*t, "journal", {"path", "types"});
    r.string(*t, "path", "journal", app.journal.path);
    r.strings(*t, "types", "journal", app.journal.types);
  }
  if (const toml::table* t = r.table(root, "http", "")) {
    r.only(*t, "http",
           {"enabled", "bind", "port", "token", "token_file", "max_body_bytes", "max_header_bytes", "read_timeout",
            "write_timeout", "rate", "burst", "max_connections"});
    r.boolean(*t, "enabled", "http", app.http.enabled);
    r.string(*t, "bind", "http", app.http.bind);
    r.integer_as(*t, "port", "http", 0, 65535, app.http.port);
    r.string(*t, "token", "http", app.http.token);
    r.integer_as(*t, "max_body_bytes", "http", 64, 64 << 20, app.http.max_body_bytes);
    r.string(*t, "token_file", "http", app.http.token_file);
    // cpp-httplib (0.11.4, the library Debian ships compiled) refuses a header line over
    // 8192 bytes (CPPHTTPLIB_HEADER_MAX_LENGTH) before our own limit is consulted, so a
    // larger limit would promise what the server cannot take.
    if (const toml::node* n = t->get("max_header_bytes");
        n != nullptr && n->is_integer() && n->as_integer()->get() > 8192)
      r.error(*n, "http.max_header_bytes",
              "expected an integer 1024..8192, found " + std::to_string(n->as_integer()->get()) +
                  ": cpp-httplib refuses a header line over 8192 bytes before rtengine sees it");
    else
      r.integer_as(*t, "max_header_bytes", "http", 1024, 8192, app.http.max_header_bytes);
    r.duration(*t, "read_timeout", "http", hal::kNsPerMs, kHour, app.http.read_timeout);
    r.duration(*t, "write_timeout", "http", hal::kNsPerMs, kHour, app.http.write_timeout);
    // Below one per 100 s a rate is an accident, and the Retry-After computed from a tiny
    // one (1 / rate seconds) overflows.
    if (double rate = app.http.rate; r.number(*t, "rate", "http", 0, 1e6, rate)) {
      if (rate != 0 && rate < 0.01)
        r.error(Reader::where(*t, "rate"), "http.rate",
                "expected 0 (unlimited) or a rate of 0.01..1000000 requests per second, found " +
                    describe(*t->get("rate")));
      else
        app.http.rate = rate;
    }
    r.number(*t, "burst", "http", 1, 1e6, app.http.burst);
    r.integer_as(*t, "max_connections", "http", 1, 256, app.http.max_connections);
  }
  if (const toml::table* t = r.table(root, "service", "")) {
    r.only(*t, "service", {"watchdog", "hardware_watchdog"});
    r.boolean(*t, "watchdog", "service", app.service.watchdog);
    std::string& dev = app.service.hardware_watchdog;
    // Relative to what? A service's working directory is /: a relative path is a mistake.
    if (r.string(*t, "hardware_watchdog", "service", dev) && !dev.empty() && dev[0] != '/')
      r.error(Reader::where(*t, "hardware_watchdog"), "service.hardware_watchdog",
              "expected \"\" (none) or an absolute device path such as \"/dev/watchdog\", found \"" + dev + "\"");
  }
  if (const toml::table* t = r.table(root, "metrics", "")) {
    r.only(*t, "metrics", {"enabled", "path"});
    r.boolean(*t, "enabled", "metrics", app.metrics.enabled);
    if (r.string(*t, "path", "metrics", app.metrics.path) && (app.metrics.path.empty() || app.metrics.path[0] != '/'))
      r.error(Reader::where(*t, "path"), "metrics.path",
              "expected a path starting with '/', found \"" + app.metrics.path + "\"");
  }
}

}  // namespace rt::config::detail
