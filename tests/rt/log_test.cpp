// F22: the JSON-lines logger. Every line is a JSON object with the required fields; the
// level filters lines and what the engine is asked to publish; the file destination
// appends and names an unopenable path; PeriodicRun is published only when asked for and
// carries the release lateness. The logger is declared after the bus it attaches to.
#include "rt/log.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <system_error>
#include <vector>

#include "engine_test_support.hpp"
#include "observe_support.hpp"
#include "rt/event_bus.hpp"

using nlohmann::json;
using rt::EventKind;
using rt::LogLevel;

namespace {

std::string temp_path(const std::string& name) {
  return ::testing::TempDir() + "rt_log_" + std::to_string(::getpid()) + "_" + name;
}

std::vector<std::string> read_lines(const std::string& path) {
  std::ifstream f(path);
  std::vector<std::string> out;
  for (std::string line; std::getline(f, line);)
    out.push_back(line);
  return out;
}

// Every line parsed (a line that is not JSON fails the test through the exception).
std::vector<json> parse_lines(const std::string& path) {
  std::vector<json> out;
  for (const std::string& line : read_lines(path))
    out.push_back(json::parse(line));
  return out;
}

// `s` has the shape of `pattern`: 'd' stands for a digit, anything else for itself. No
// std::regex: GCC 12 warns inside <regex> under -O2 -fsanitize=address (-Werror).
bool matches(const std::string& s, const std::string& pattern) {
  if (s.size() != pattern.size()) return false;
  for (std::size_t i = 0; i < s.size(); ++i) {
    const bool digit = s[i] >= '0' && s[i] <= '9';
    if (pattern[i] == 'd' ? !digit : s[i] != pattern[i]) return false;
  }
  return true;
}

// "index:generation", both decimal.
bool is_task_id(const std::string& s) {
  const auto colon = s.find(':');
  if (colon == std::string::npos || colon == 0 || colon + 1 == s.size()) return false;
  for (std::size_t i = 0; i < s.size(); ++i)
    if (i != colon && (s[i] < '0' || s[i] > '9')) return false;
  return true;
}

std::vector<json> with_event(const std::vector<json>& lines, const std::string& event) {
  std::vector<json> out;
  for (const json& j : lines)
    if (j.at("event") == event) out.push_back(j);
  return out;
}

// Of one-shot tasks only: the empty periodic loop beside them may time out on a slow
// machine (qemu), which would add a periodic line of the same kind.
std::vector<json> task_events(const std::vector<json>& lines, const std::string& event) {
  std::vector<json> out;
  for (const json& l : with_event(lines, event))
    if (l.value("subject", "") == "task") out.push_back(l);
  return out;
}

std::size_t count_periodic_runs(const std::string& path) {
  std::size_t n = 0;
  for (const std::string& line : read_lines(path))
    n += line.find("\"event\":\"periodic_run\"") != std::string::npos ? 1U : 0U;
  return n;
}

}  // namespace

TEST(Log, LevelNamesParseAndEveryKindHasALevel) {
  LogLevel l = LogLevel::Error;
  ASSERT_TRUE(rt::parse_log_level("warn", l));
  EXPECT_EQ(l, LogLevel::Warn);
  ASSERT_TRUE(rt::parse_log_level("warning", l));
  EXPECT_EQ(l, LogLevel::Warn);
  ASSERT_TRUE(rt::parse_log_level("debug", l));
  EXPECT_EQ(l, LogLevel::Debug);
  EXPECT_FALSE(rt::parse_log_level("loud", l));
  EXPECT_EQ(l, LogLevel::Debug);
  for (const LogLevel x : {LogLevel::Debug, LogLevel::Info, LogLevel::Warn, LogLevel::Error}) {
    LogLevel back = LogLevel::Debug;
    ASSERT_TRUE(rt::parse_log_level(rt::to_string(x), back));
    EXPECT_EQ(back, x);
  }
  EXPECT_EQ(rt::kinds_at_or_above(LogLevel::Debug), rt::kAllEvents);
  const rt::EventMask warn = rt::kinds_at_or_above(LogLevel::Warn);
  EXPECT_NE(warn & rt::event_bit(EventKind::Timeout), 0U);
  EXPECT_NE(warn & rt::event_bit(EventKind::WorkerStalled), 0U);
  EXPECT_EQ(warn & rt::event_bit(EventKind::Completed), 0U);
  EXPECT_EQ(warn & rt::event_bit(EventKind::PeriodicRun), 0U);
  EXPECT_EQ(warn & rt::event_bit(EventKind::Retrying), 0U);
  EXPECT_EQ(rt::to_string(EventKind::PeriodicRun), "periodic_run");
  EXPECT_EQ(rt::kDefaultEventInterest & rt::event_bit(EventKind::PeriodicRun), 0U);
}

TEST(Log, EveryLineIsJsonWithTheRequiredFields) {
  const std::string path = temp_path("debug.jsonl");
  ::unlink(path.c_str());
  rt::Engine e(observe_support::mixed_config());
  const int loop = observe_support::add_loop(e);
  rt::EventBus bus(e, observe_support::quiet_bus());
  rt::Logger log(e, {.level = LogLevel::Debug, .path = path});
  log.attach(bus);
  log.log(LogLevel::Info, "start", "engine \"test\"\nstarting", {{"workers", "2"}});
  observe_support::run_mixed(e, bus, loop, [&] { return count_periodic_runs(path); });
  log.log(LogLevel::Info, "stop", "engine stopped");
  log.close();

  const std::vector<json> lines = parse_lines(path);
  ASSERT_GE(lines.size(), 10U);
  for (const json& j : lines) {
    for (const char* key : {"ts_ns", "wall", "level", "event"})
      ASSERT_TRUE(j.contains(key)) << key << " missing in " << j.dump();
    EXPECT_TRUE(j.at("ts_ns").is_number_integer());
    EXPECT_TRUE(matches(j.at("wall").get<std::string>(), "dddd-dd-ddTdd:dd:dd.ddddddZ")) << j.at("wall");
    LogLevel l{};
    EXPECT_TRUE(rt::parse_log_level(j.at("level").get<std::string>(), l)) << j.dump();
    EventKind k{};
    if (rt::parse_event_kind(j.at("event").get<std::string>(), k)) {
      EXPECT_TRUE(j.contains("subject") && j.contains("id")) << j.dump();
      EXPECT_EQ(j.at("level"), rt::to_string(rt::event_level(k))) << j.dump();
    }
  }
  const auto start = with_event(lines, "start");
  ASSERT_EQ(start.size(), 1U);
  EXPECT_EQ(start[0].at("message"), "engine \"test\"\nstarting");
  EXPECT_EQ(start[0].at("workers"), "2");

  const auto completed = with_event(lines, "completed");
  ASSERT_EQ(completed.size(), 3U);
  for (const json& j : completed) {
    EXPECT_EQ(j.at("level"), "debug");
    EXPECT_EQ(j.at("subject"), "task");
    EXPECT_TRUE(is_task_id(j.at("id").get<std::string>())) << j.at("id");
    EXPECT_EQ(j.at("type"), "task");
    EXPECT_EQ(j.at("worker"), 1);
    EXPECT_EQ(j.at("transition"), "running->completed");
    EXPECT_GE(j.at("duration_us").get<double>(), 100.0);  // it slept 100 us
    EXPECT_FALSE(j.contains("error"));
  }
  const auto failed = task_events(lines, "failed");
  ASSERT_EQ(failed.size(), 1U);
  EXPECT_EQ(failed[0].at("level"), "warn");
  EXPECT_EQ(failed[0].at("type"), "flaky");
  EXPECT_EQ(failed[0].at("transition"), "running->failed");
  EXPECT_EQ(failed[0].at("error"), "exception");
  EXPECT_TRUE(failed[0].contains("duration_us"));

  const auto timeout = task_events(lines, "timeout");
  ASSERT_EQ(timeout.size(), 1U);
  EXPECT_EQ(timeout[0].at("level"), "warn");
  EXPECT_EQ(timeout[0].at("type"), "flaky");
  EXPECT_EQ(timeout[0].at("error"), "deadline_missed");
  const std::string tr = timeout[0].at("transition");
  EXPECT_TRUE(tr == "running->timeout" || tr == "ready->timeout") << tr;  // started in time or not

  const auto runs = with_event(lines, "periodic_run");
  ASSERT_GE(runs.size(), 5U);
  for (const json& j : runs) {
    EXPECT_EQ(j.at("subject"), "periodic");
    EXPECT_EQ(j.at("id"), loop);
    EXPECT_EQ(j.at("name"), "pid");
    EXPECT_EQ(j.at("type"), "sensor");
    EXPECT_EQ(j.at("worker"), 0);
    EXPECT_GE(j.at("duration_us").get<double>(), 0.0);
    EXPECT_GE(j.at("lateness_us").get<double>(), 0.0);
  }

  const json& last = lines.back();
  EXPECT_EQ(last.at("event"), "log_closed");
  EXPECT_EQ(last.at("events_dropped").get<std::uint64_t>(), e.events_dropped());
  std::size_t event_lines = 0;
  for (const json& j : lines)
    event_lines += j.contains("subject") ? 1U : 0U;
  EXPECT_GE(last.at("bus_polled").get<std::uint64_t>(), event_lines);
  EXPECT_EQ(last.at("lines").get<std::size_t>(), lines.size());
  EXPECT_EQ(log.stats().write_errors, 0U);
}

TEST(Log, TheLevelFiltersLinesAndWhatTheEngineIsAskedFor) {
  const std::string path = temp_path("warn.jsonl");
  ::unlink(path.c_str());
  rt::Engine e(observe_support::mixed_config());
  const int loop = observe_support::add_loop(e);
  rt::EventBus bus(e, observe_support::quiet_bus());
  rt::Logger log(e, {.level = LogLevel::Warn, .path = path});
  log.attach(bus);
  // Debug kinds cost the publishers one load: the engine does not publish them at all.
  EXPECT_EQ(e.event_interest(), rt::kinds_at_or_above(LogLevel::Warn));
  EXPECT_EQ(e.event_interest() & rt::event_bit(EventKind::PeriodicRun), 0U);
  log.log(LogLevel::Info, "start", "below the level");
  log.log(LogLevel::Error, "degraded", "no SCHED_FIFO");
  std::uint64_t runs = 0;
  observe_support::run_mixed(e, bus, loop, [&] { return runs = e.periodic_stats(loop).runs; });
  log.close();

  const std::vector<json> lines = parse_lines(path);
  ASSERT_FALSE(lines.empty());
  for (const json& l : lines) {
    const std::string level = l.at("level");
    EXPECT_TRUE(level == "warn" || level == "error") << l.dump();
  }
  // The summary is info unless something was lost: then it is a warning.
  EXPECT_EQ(with_event(lines, "log_closed").size(), e.events_dropped() != 0 ? 1U : 0U);
  EXPECT_TRUE(with_event(lines, "start").empty());
  EXPECT_EQ(with_event(lines, "degraded").size(), 1U);
  EXPECT_EQ(task_events(lines, "failed").size(), 1U);
  EXPECT_EQ(task_events(lines, "timeout").size(), 1U);
  EXPECT_TRUE(with_event(lines, "completed").empty());
  EXPECT_TRUE(with_event(lines, "periodic_run").empty());
  EXPECT_EQ(log.stats().below_level, 1U);
  EXPECT_GE(runs, 5U);
}

TEST(Log, AFileIsAppendedToAndAnUnopenableOneIsNamed) {
  const std::string path = temp_path("append.jsonl");
  {
    std::ofstream f(path, std::ios::trunc);
    f << "{\"earlier\":true}\n";
  }
  rt::Engine e(testing_support::small_config());
  {
    rt::Logger log(e, {.level = LogLevel::Info, .path = path});
    log.log(LogLevel::Warn, "config", "reloaded", {{"file", "a.toml"}});
  }  // the destructor closes: the summary line without a bus
  const std::vector<json> lines = parse_lines(path);
  ASSERT_EQ(lines.size(), 3U);
  EXPECT_TRUE(lines[0].at("earlier"));
  EXPECT_EQ(lines[1].at("event"), "config");
  EXPECT_EQ(lines[1].at("file"), "a.toml");
  EXPECT_EQ(lines[2].at("event"), "log_closed");
  EXPECT_FALSE(lines[2].contains("bus_polled"));

  const std::string bad = temp_path("no_such_dir") + "/x.jsonl";
  try {
    rt::Logger log(e, {.path = bad});
    FAIL() << "opened " << bad;
  } catch (const std::system_error& ex) {
    EXPECT_NE(std::string(ex.what()).find(bad), std::string::npos) << ex.what();
  }
}

TEST(Log, AnEventLineCarriesItsFields) {
  rt::Engine e(observe_support::mixed_config());
  (void)observe_support::add_loop(e);
  rt::Logger log(e, {.path = temp_path("unused.jsonl")});
  const json run = json::parse(log.format(rt::Event{.kind = EventKind::PeriodicRun,
                                                    .subject = rt::Subject::Periodic,
                                                    .type = 1,
                                                    .worker = 0,
                                                    .aux = 2'500'000,
                                                    .id = 0,
                                                    .at = 1'000'000'000,
                                                    .value = 1'234'567}));
  EXPECT_EQ(run.at("ts_ns"), 1'000'000'000);
  EXPECT_EQ(run.at("name"), "pid");
  EXPECT_EQ(run.at("type"), "sensor");
  EXPECT_DOUBLE_EQ(run.at("duration_us").get<double>(), 1234.567);
  EXPECT_DOUBLE_EQ(run.at("lateness_us").get<double>(), 2500.0);
  const json rolled = json::parse(log.format(rt::Event{.kind = EventKind::RolledBack,
                                                       .reason = rt::Reason::DeadlineMissed,
                                                       .type = 2,
                                                       .id = rt::TaskId{7, 3}.value(),
                                                       .value = 5000}));
  EXPECT_EQ(rolled.at("id"), "7:3");
  EXPECT_EQ(rolled.at("transition"), "timeout->rolled_back");
  EXPECT_EQ(rolled.at("error"), "deadline_missed");
  EXPECT_FALSE(rolled.contains("worker"));
  EXPECT_EQ(rolled.at("level"), "warn");
  log.close();
  ::unlink(temp_path("unused.jsonl").c_str());
}

// F22's feed: PeriodicRun is published only when someone asks for it, and carries the
// run's time (value) and its release lateness (aux). The first run sleeps 5 ms on a 2 ms
// grid with CatchUp, so the next release is at least 3 ms late when it starts.
TEST(Log, PeriodicRunIsPublishedOnlyWhenAskedForAndCarriesLateness) {
  rt::Engine e(observe_support::mixed_config());
  std::atomic<int> n{0};
  const int loop = e.add_periodic(
      {.name = "slow", .period = 2 * hal::kNsPerMs, .worker = 0, .overrun = rt::Overrun::CatchUp, .type = 1}, [&n] {
        if (n.fetch_add(1) == 0) std::this_thread::sleep_for(std::chrono::milliseconds(5));
      });
  e.start();
  ASSERT_TRUE(e.start_periodic(loop));
  ASSERT_TRUE(testing_support::eventually([&] { return n.load() >= 3; }));
  std::vector<rt::Event> evs = testing_support::drain_events(e);
  EXPECT_EQ(testing_support::count_kind(evs, EventKind::PeriodicRun), 0U);  // nobody asked

  ASSERT_TRUE(e.stop_periodic(loop));
  // Applied by the worker between runs: no run of the first start is still going when
  // the count starts again and PeriodicRun is asked for.
  ASSERT_TRUE(testing_support::eventually([&] { return e.periodic_stats(loop).state == rt::PeriodicState::Stopped; }));
  (void)testing_support::drain_events(e);
  n.store(0);
  e.set_event_interest(rt::kDefaultEventInterest | rt::event_bit(EventKind::PeriodicRun));
  ASSERT_TRUE(e.start_periodic(loop));
  evs = testing_support::events_until(
      e, [](const auto& all) { return testing_support::count_kind(all, EventKind::PeriodicRun) >= 3; });
  (void)e.stop(rt::StopMode::Drain);
  std::vector<rt::Event> runs;
  for (const rt::Event& ev : evs)
    if (ev.kind == EventKind::PeriodicRun) runs.push_back(ev);
  ASSERT_GE(runs.size(), 3U);
  for (const rt::Event& ev : runs) {
    EXPECT_EQ(ev.subject, rt::Subject::Periodic);
    EXPECT_EQ(ev.id, static_cast<std::uint64_t>(loop));
    EXPECT_EQ(ev.worker, 0);
    EXPECT_EQ(ev.type, 1);
    EXPECT_GE(ev.value, 0);
  }
  EXPECT_GE(runs[0].value, 5 * hal::kNsPerMs);  // the slow one, measured start to end
  EXPECT_GE(runs[1].aux, 3U * hal::kNsPerMs);   // released at +2 ms, started after +5 ms
  EXPECT_GE(runs[1].at, runs[0].at + runs[0].value);
}
