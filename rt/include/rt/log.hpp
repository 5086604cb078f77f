#pragma once
// F22: structured logs, one JSON object per line, to stderr or a file.
//
// RT threads never format or write: they publish fixed-size events into the engine's
// bounded ring (a full ring drops the event and counts it, it never blocks), and an
// EventBus's dispatcher, a non-RT thread, hands them to the logger, which formats and
// writes. Setup code (start, config, degraded mode, stop) writes its own lines with log().
//
//   rt::Engine engine(cfg);
//   rt::EventBus bus(engine);
//   rt::Logger logger(engine, {.level = rt::LogLevel::Info, .path = "run.log"});
//   logger.attach(bus);      // subscribes for the kinds at or above the level
//   bus.start();
//   engine.start();
//   logger.log(rt::LogLevel::Info, "start", "engine started");
//   ...
//   engine.stop(rt::StopMode::Drain);
//   logger.close();          // drains the bus, writes the final counts line
//
// A line: {"ts_ns":..,"wall":"2026-11-26T05:33:11.123456Z","level":"warn","event":"timeout",
// "subject":"task","id":"3:1","type":"sensor","worker":0,"transition":"running->timeout",
// "duration_us":812.345,"error":"deadline_missed"}; fields that do not apply are left out
// (event.hpp says which kinds carry a duration or a lateness).
#include <cstdint>
#include <initializer_list>
#include <mutex>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "rt/event.hpp"

namespace rt {

class Engine;
class EventBus;

enum class LogLevel : std::uint8_t { Debug, Info, Warn, Error };
[[nodiscard]] std::string_view to_string(LogLevel l) noexcept;
// "debug", "info", "warn" (or "warning"), "error"; false, `out` untouched, for anything else.
[[nodiscard]] bool parse_log_level(std::string_view name, LogLevel& out) noexcept;
// The level each event kind is logged at: a task's ordinary way through the engine is
// debug, what the engine does about trouble (retries, skips, gates, circuits) info, a
// violation warn, what needs a person (dead letters, stalls) error.
[[nodiscard]] LogLevel event_level(EventKind k) noexcept;
// The kinds logged at `min` or above: what the logger asks the engine to publish, so a
// kind below the level costs its publisher one relaxed load.
[[nodiscard]] EventMask kinds_at_or_above(LogLevel min) noexcept;

struct LoggerConfig {
  LogLevel level = LogLevel::Info;
  std::string path;         // empty or "-": stderr; else appended to, created (0644) if missing
  bool erase_line = false;  // start each line with "\r" + erase-line (a terminal with a live status line)
};

struct LoggerStats {
  std::uint64_t lines = 0;         // written
  std::uint64_t below_level = 0;   // log() calls below the level
  std::uint64_t write_errors = 0;  // lines a write() could not take whole
};

class Logger {
 public:
  using Field = std::pair<std::string_view, std::string_view>;

  // Setup: opens the destination (throws std::system_error naming the path and errno),
  // takes the wall-clock offset and the engine's type names. `e` must outlive the logger.
  Logger(Engine& e, LoggerConfig c = {});
  // close().
  ~Logger();
  Logger(const Logger&) = delete;
  Logger& operator=(const Logger&) = delete;

  // Setup: subscribes to `bus` for kinds_at_or_above(level); the handler runs on the bus's
  // dispatcher. One bus at a time (throws std::logic_error for a second). `bus` must
  // outlive the attachment: close() or destroy the logger first (declare it after the bus).
  void attach(EventBus& bus);
  // Flushes the bus (what was published before is written), then unsubscribes. Nothing
  // to do when not attached. Not from inside a bus handler.
  void detach();

  // Any non-RT thread: a setup line {"ts_ns","wall","level","event","message",fields...}.
  // Field values are written as JSON strings. Dropped (and counted) below the level.
  void log(LogLevel level, std::string_view event, std::string_view message, std::initializer_list<Field> fields = {});
  // Writes one event's line (the subscription's handler; also callable directly, e.g. by
  // a consumer that polls the engine itself). Kinds below the level are skipped.
  void write_event(const Event& ev);
  // The line for `ev` without its newline, whatever the level.
  [[nodiscard]] std::string format(const Event& ev);

  // detach(), then a final line "log_closed" with the engine's events_dropped and the
  // bus's counts (when one was attached), then closes a file. The line is info (written
  // at levels debug and info), or warn when events were dropped, a subscriber threw or a
  // write failed. Idempotent; log() and
  // write_event() after it do nothing.
  void close();

  [[nodiscard]] LogLevel level() const noexcept { return cfg_.level; }
  [[nodiscard]] LoggerStats stats() const;

 private:
  void append_head(std::string& line, std::int64_t ts, LogLevel level, std::string_view event) const;
  void append_event_fields(std::string& line, const Event& ev);
  std::string_view name_of(const Event& ev);
  void emit(std::string& line);  // caller holds mu_

  Engine& engine_;
  const LoggerConfig cfg_;
  const std::int64_t wall_offset_;
  std::vector<std::string> types_;

  mutable std::mutex mu_;  // the fd, the buffers, the counters, the name caches
  int fd_ = -1;
  bool own_fd_ = false;
  std::string line_;  // reused: a line allocates only while it grows past the longest yet
  std::vector<std::string> periodic_names_, graph_names_;
  LoggerStats stats_;

  std::mutex attach_mu_;  // attach, detach, close
  EventBus* bus_ = nullptr;
  int sub_ = 0;
  bool bus_seen_ = false;
  std::uint64_t bus_polled_ = 0, bus_delivered_ = 0, bus_errors_ = 0, bus_engine_dropped_ = 0;
};

}  // namespace rt
