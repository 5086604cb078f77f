#pragma once
// F25: the TOML configuration of `rtengine run`, loaded with toml++. Setup only: every
// function here allocates and none is for RT threads.
//
// A file is checked whole: every problem is collected (not just the first), each naming
// file:line:column, the key (a dotted path such as `periodic[0].period`), what was expected
// and what was found. Unknown keys are errors, with a "did you mean" when a known key is
// close. Every key has a built-in default, so an empty file (or none) is a valid config.
#include <cstdint>
#include <filesystem>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "rt/engine.hpp"

namespace rt::config {

// Caps that keep a hostile or broken file from costing more than a config should (R7).
inline constexpr std::size_t kMaxFileBytes = 1 << 20;
inline constexpr int kMaxDepth = 8;  // tables and arrays nested inside one another

// Knobs of the built-in handlers (the run command's catalogue), on any task, periodic task
// or graph node. Faults are injected by count, not at random, so a run is reproducible.
struct HandlerParams {
  ns_t work = 0;                    // busy time of each run
  std::uint32_t fail_every = 0;     // every Nth run throws; 0 never
  std::uint32_t overrun_every = 0;  // every Nth run also spins `overrun` more; 0 never
  ns_t overrun = 0;
};

// [[task]]: a task type (TypeId = its index in EngineConfig::task_types).
struct TaskDecl {
  std::string name;
  std::string handler;
  Priority priority = Priority::Normal;
  ns_t deadline = 0;  // relative to the start; 0 none
  std::vector<std::string> gates;
  RetryPolicy retry{};
  std::string retry_name;  // the preset or [retry.NAME] it came from; empty: none
  double rate = 0;         // Hz: `rtengine run` submits this type at this rate; 0: never
  HandlerParams params;
  int line = 0;  // where it was declared, for later messages
};

// [[periodic]]: a control loop. spec.type/gates are resolved from type_name/gates.
struct PeriodicDecl {
  PeriodicSpec spec;  // name, period, phase, deadline, priority, worker, precision...
  std::string handler;
  std::string type_name;  // a [[task]] name, or "" for type 0
  std::vector<std::string> gates;
  bool rollback = false;  // bind the handler's state for snapshot rollback (F11)
  HandlerParams params;
  int line = 0;
};

// [[graph]] and [[pipeline]] (a chain of stages): F18.
struct GraphDecl {
  GraphSpec spec;
  std::vector<HandlerParams> params;  // per node, as spec.nodes
  ns_t period = 0;                    // > 0: released periodically (Engine::add_periodic_graph)
  int worker = -1;
  Precision precision = Precision::Sleep;
  ns_t hybrid_margin = PeriodicSpec{}.hybrid_margin;  // or kAutoMargin, as PeriodicSpec's
  double hybrid_margin_cap = PeriodicSpec{}.hybrid_margin_cap;
  ns_t hybrid_margin_guard = PeriodicSpec{}.hybrid_margin_guard;
  int line = 0;
};

// [[saga]]: F16.
struct SagaDecl {
  SagaSpec spec;
  double rate = 0;  // Hz: `rtengine run` starts a run at this rate; 0: never
  int line = 0;
};

struct RunSettings {
  ns_t duration = 0;                         // 0: until SIGINT/SIGTERM
  ns_t progress = 250 * hal::kNsPerMs;       // live line refresh on a terminal
  ns_t progress_plain = 5 * hal::kNsPerSec;  // a plain line this often otherwise
  StopMode stop = StopMode::Drain;
};

struct LoggingSettings {
  std::string level = "info";          // debug, info, warn, error
  std::string destination = "stderr";  // "stderr" or a file path (appended)
};

struct TracingSettings {
  std::string file;  // empty: no trace (rtengine run --trace FILE sets it)
  std::size_t window_events = 1 << 16;
  ns_t window = 10 * hal::kNsPerSec;  // only the last this long is written
};

struct JournalSettings {
  std::string path;                // empty: no journal
  std::vector<std::string> types;  // the [[task]] types journaled at stop; empty: all
};

// [http]: the HTTP API (F24) and its limits (R8).
struct HttpSettings {
  bool enabled = false;
  std::string bind = "127.0.0.1";
  int port = 8080;
  std::string token;       // empty: state-changing calls need none
  std::string token_file;  // the token's first line is read from here (keeps it out of the config)
  std::size_t max_body_bytes = std::size_t{64} * 1024;
  std::size_t max_header_bytes = 8192;  // 1024..8192: cpp-httplib refuses a longer header line itself
  ns_t read_timeout = 5 * hal::kNsPerSec;
  ns_t write_timeout = 5 * hal::kNsPerSec;
  double rate = 50;  // requests per second per client address; 0: unlimited, else 0.01..1e6
  double burst = 100;
  std::size_t max_connections = 8;
};

struct MetricsSettings {
  bool enabled = true;
  std::string path = "/metrics";
};

// [service]: rtengine run under a service manager (config/systemd/rtengine.service). READY=1
// once set up and STATUS= lines are sent whenever NOTIFY_SOCKET is set; the watchdogs are
// petted only while the engine is healthy (no STALLED worker, the monitor alive).
struct ServiceSettings {
  bool watchdog = true;           // pet systemd's watchdog when the unit asks for one (WatchdogSec=)
  std::string hardware_watchdog;  // a watchdog device (/dev/watchdog) to pet by the same rule; empty: none
};

struct AppConfig {
  std::string source = "<built-in>";  // the file it came from
  EngineConfig engine;                // task_types, gates and breakers filled from the declarations
  std::vector<TaskDecl> tasks;
  std::vector<PeriodicDecl> periodic;
  std::vector<GraphDecl> graphs;
  std::vector<SagaDecl> sagas;
  RunSettings run;
  LoggingSettings logging;
  TracingSettings tracing;
  JournalSettings journal;
  HttpSettings http;
  MetricsSettings metrics;
  ServiceSettings service;
  std::map<std::string, RetryPolicy, std::less<>> retry_policies;  // the [retry.NAME] tables
};

struct Diagnostic {
  std::string file;
  int line = 0, column = 0;  // 0: the whole file
  std::string key;           // dotted path; empty when the problem is not one key's
  std::string message;
  // "file:line:column: key: message"
  [[nodiscard]] std::string str() const;
};

struct LoadOptions {
  // The handler names a file may use (the run command's catalogue); empty: any name.
  std::vector<std::string> handlers;
  // Of those, the ones that run only as a [[periodic]] task, and only as a workflow node:
  // a task type, saga step or other place naming one is an error at its key.
  std::vector<std::string> periodic_only;
  std::vector<std::string> node_only;
};

struct LoadResult {
  AppConfig config;  // meaningful only when ok()
  std::vector<Diagnostic> errors;
  [[nodiscard]] bool ok() const noexcept { return errors.empty(); }
};

// `text` is the file's content and `file` its name in messages.
[[nodiscard]] LoadResult parse(std::string_view text, const std::string& file, const LoadOptions& opts = {});
// Reads and parses `path`; an unreadable or oversized file is one diagnostic.
[[nodiscard]] LoadResult load(const std::filesystem::path& path, const LoadOptions& opts = {});
// The embedded default config (config/default.toml): the demo, commented.
[[nodiscard]] std::string_view default_text() noexcept;
// "250us", "1ms", "2.5s", "100ns", "1min", "0"; false when it is not a duration.
[[nodiscard]] bool parse_duration(std::string_view text, ns_t& out);
// Levenshtein distance, capped: for "did you mean".
[[nodiscard]] std::size_t edit_distance(std::string_view a, std::string_view b);

}  // namespace rt::config
