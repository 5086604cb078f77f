// F25: the config loader, through its public entry points: what a file turns into, and
// every kind of error with its exact place, key and words.
#include "rtconfig/config.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <initializer_list>
#include <string>
#include <vector>

#include "cli.hpp"

namespace {

using rt::config::Diagnostic;
using rt::config::LoadOptions;
using rt::config::LoadResult;

LoadResult parse(std::string_view text) { return rt::config::parse(text, "test.toml", rt::cli::load_options()); }

std::string dump(const LoadResult& r) {
  std::string s;
  for (const Diagnostic& d : r.errors)
    s += d.str() + "\n";
  return s;
}

bool has(const std::string& s, std::string_view what) { return s.find(what) != std::string::npos; }

// The file has exactly one error, at line:column, on `key`, whose message holds `words`.
void expect_one(const LoadResult& r, int line, int column, const std::string& key,
                std::initializer_list<std::string_view> words) {
  ASSERT_EQ(r.errors.size(), 1U) << dump(r);
  const Diagnostic& d = r.errors[0];
  EXPECT_EQ(d.file, "test.toml");
  EXPECT_EQ(d.line, line) << d.str();
  EXPECT_EQ(d.column, column) << d.str();
  EXPECT_EQ(d.key, key) << d.str();
  for (std::string_view w : words)
    EXPECT_TRUE(has(d.message, w)) << "no \"" << w << "\" in: " << d.str();
}

// --- what a file turns into ---

TEST(ConfigParse, EmptyFileIsTheBuiltInDefaults) {
  const LoadResult r = parse("");
  ASSERT_TRUE(r.ok()) << dump(r);
  const rt::config::AppConfig& c = r.config;
  const rt::EngineConfig defaults;
  EXPECT_EQ(c.source, "test.toml");
  EXPECT_EQ(c.engine.workers.size(), defaults.workers.size());
  EXPECT_EQ(c.engine.workers[0].classes, rt::kAllClasses);
  EXPECT_EQ(c.engine.max_tasks, defaults.max_tasks);
  EXPECT_EQ(c.engine.ring_capacity, defaults.ring_capacity);
  EXPECT_EQ(c.engine.event_capacity, defaults.event_capacity);
  EXPECT_EQ(c.engine.idle_spin, defaults.idle_spin);
  EXPECT_EQ(c.engine.lock_memory, defaults.lock_memory);
  EXPECT_TRUE(c.engine.gates.empty());
  EXPECT_TRUE(c.engine.breakers.empty());
  EXPECT_EQ(c.engine.task_types, std::vector<std::string>{"task"});
  EXPECT_TRUE(c.tasks.empty());
  EXPECT_TRUE(c.periodic.empty());
  EXPECT_TRUE(c.graphs.empty());
  EXPECT_TRUE(c.sagas.empty());
  EXPECT_EQ(c.run.duration, 0);
  EXPECT_EQ(c.run.stop, rt::StopMode::Drain);
  EXPECT_EQ(c.logging.level, "info");
  EXPECT_EQ(c.logging.destination, "stderr");
  EXPECT_FALSE(c.http.enabled);
  EXPECT_EQ(c.http.port, 8080);
  EXPECT_TRUE(c.metrics.enabled);
  EXPECT_EQ(c.metrics.path, "/metrics");
  EXPECT_TRUE(c.journal.path.empty());
  EXPECT_TRUE(c.service.watchdog);
  EXPECT_TRUE(c.service.hardware_watchdog.empty());  // off: a device that can reboot the machine is opt-in
  // Comments and blank lines are an empty file too.
  EXPECT_TRUE(parse("# nothing here\n\n   \n").ok());
}

TEST(ConfigParse, DefaultTextIsTheDemo) {
  const LoadResult r = parse(rt::config::default_text());
  ASSERT_TRUE(r.ok()) << dump(r);
  const rt::config::AppConfig& c = r.config;

  ASSERT_EQ(c.periodic.size(), 1U);
  const rt::config::PeriodicDecl& p = c.periodic[0];
  EXPECT_EQ(p.handler, "motor_pid");
  EXPECT_EQ(p.spec.period, hal::kNsPerMs);
  EXPECT_EQ(p.spec.deadline, 800 * hal::kNsPerUs);
  EXPECT_EQ(p.spec.precision, rt::Precision::Hybrid);
  EXPECT_EQ(p.spec.hybrid_margin, 100 * hal::kNsPerUs);
  EXPECT_EQ(p.spec.priority, rt::Priority::Critical);
  EXPECT_TRUE(p.rollback);
  EXPECT_EQ(p.spec.gates, rt::GateMask{1});  // "actuators", the only gate
  EXPECT_EQ(c.engine.gates, std::vector<std::string>{"actuators"});
  EXPECT_EQ(c.engine.workers.size(), 2U);

  ASSERT_EQ(c.graphs.size(), 1U);
  const rt::GraphSpec& g = c.graphs[0].spec;
  EXPECT_EQ(g.name, "frame");
  EXPECT_EQ(c.graphs[0].period, 10 * hal::kNsPerMs);
  ASSERT_EQ(g.nodes.size(), 4U);
  const char* chain[] = {"sense", "estimate", "control", "actuate"};
  for (std::size_t i = 0; i < 4; ++i) {
    EXPECT_EQ(g.nodes[i].name, chain[i]);
    if (i == 0) {
      EXPECT_TRUE(g.nodes[i].after.empty());
    } else {
      EXPECT_EQ(g.nodes[i].after, std::vector<std::string>{chain[i - 1]});
    }
  }

  ASSERT_EQ(c.tasks.size(), 3U);
  EXPECT_EQ(c.tasks[0].name, "telemetry");
  EXPECT_EQ(c.tasks[0].retry_name, "telemetry");
  EXPECT_EQ(c.tasks[0].retry.strategy, rt::RetryStrategy::Exponential);
  EXPECT_EQ(c.tasks[0].retry.max_retries, 2U);
  EXPECT_EQ(c.tasks[0].retry.initial_delay, 2 * hal::kNsPerMs);
  EXPECT_EQ(c.tasks[1].name, "housekeeping");
  EXPECT_EQ(c.tasks[1].retry_name, "quick");
  EXPECT_EQ(c.tasks[1].retry.max_retries, rt::retry_preset(rt::RetryPreset::Quick).max_retries);
  EXPECT_EQ(c.tasks[2].name, "upload");
  EXPECT_EQ(c.tasks[2].retry_name, "flaky");  // declared after the task that names it
  EXPECT_EQ(c.tasks[2].retry.strategy, rt::RetryStrategy::Fixed);
  EXPECT_EQ(c.tasks[2].retry.max_retries, 1U);
  EXPECT_EQ(c.engine.task_types, (std::vector<std::string>{"task", "telemetry", "housekeeping", "upload"}));

  ASSERT_EQ(c.engine.breakers.size(), 1U);
  EXPECT_EQ(c.engine.breakers[0].type, "telemetry");
  EXPECT_EQ(c.engine.breakers[0].failure_threshold, 5U);
  EXPECT_EQ(c.engine.breakers[0].cool_down, 500 * hal::kNsPerMs);
}

TEST(ConfigParse, PipelineIsAChain) {
  const LoadResult r = parse(R"([[pipeline]]
name = "p"
stages = ["sense", { name = "est", handler = "estimate" }, "actuate"]
)");
  ASSERT_TRUE(r.ok()) << dump(r);
  ASSERT_EQ(r.config.graphs.size(), 1U);
  const rt::GraphSpec& g = r.config.graphs[0].spec;
  ASSERT_EQ(g.nodes.size(), 3U);
  EXPECT_TRUE(g.nodes[0].after.empty());
  EXPECT_EQ(g.nodes[1].name, "est");
  EXPECT_EQ(g.nodes[1].type, "estimate");
  EXPECT_EQ(g.nodes[1].after, std::vector<std::string>{"sense"});
  EXPECT_EQ(g.nodes[2].after, std::vector<std::string>{"est"});
}

TEST(ConfigParse, CustomRetryPolicyUsedByATask) {
  const LoadResult r = parse(R"([retry.gentle]
strategy = "linear"
max_retries = 4
initial_delay = "5ms"

[[task]]
name = "t"
handler = "work"
retry = "gentle"
)");
  ASSERT_TRUE(r.ok()) << dump(r);
  ASSERT_EQ(r.config.tasks.size(), 1U);
  EXPECT_EQ(r.config.tasks[0].retry_name, "gentle");
  EXPECT_EQ(r.config.tasks[0].retry.strategy, rt::RetryStrategy::Linear);
  EXPECT_EQ(r.config.tasks[0].retry.max_retries, 4U);
  EXPECT_EQ(r.config.tasks[0].retry.initial_delay, 5 * hal::kNsPerMs);
  // Kept by name for what names a policy later (the HTTP API's POST /tasks).
  ASSERT_EQ(r.config.retry_policies.count("gentle"), 1U);
  EXPECT_EQ(r.config.retry_policies.at("gentle").max_retries, 4U);
}

TEST(ConfigParse, HttpLimits) {
  const LoadResult r = parse(R"([http]
enabled = true
port = 9100
token_file = "/etc/rtengine/token"
max_header_bytes = 4096
write_timeout = "2s"
rate = 12.5
burst = 20
max_connections = 4
)");
  ASSERT_TRUE(r.ok()) << dump(r);
  const rt::config::HttpSettings& h = r.config.http;
  EXPECT_TRUE(h.enabled);
  EXPECT_EQ(h.port, 9100);
  EXPECT_EQ(h.token_file, "/etc/rtengine/token");
  EXPECT_EQ(h.max_header_bytes, 4096U);
  EXPECT_EQ(h.write_timeout, 2 * hal::kNsPerSec);
  EXPECT_DOUBLE_EQ(h.rate, 12.5);
  EXPECT_DOUBLE_EQ(h.burst, 20);
  EXPECT_EQ(h.max_connections, 4U);
  EXPECT_EQ(h.bind, "127.0.0.1");  // loopback unless a config says otherwise (R8)
}

TEST(ConfigParse, PostCapacityPerClass) {
  const LoadResult r = parse("[engine.post_capacity]\ncritical = 256\nlow = 0\n");
  ASSERT_TRUE(r.ok()) << dump(r);
  const auto& pc = r.config.engine.post_capacity;
  EXPECT_EQ(pc[static_cast<std::size_t>(rt::Priority::Critical)], 256U);
  EXPECT_EQ(pc[static_cast<std::size_t>(rt::Priority::Low)], 0U);
  EXPECT_EQ(pc[static_cast<std::size_t>(rt::Priority::Normal)], rt::EngineConfig{}.post_capacity[2]);
}

TEST(ConfigErrors, PostCapacityOutOfRange) {
  const LoadResult r = parse("[engine.post_capacity]\nhigh = -1\n");
  expect_one(r, 2, 8, "engine.post_capacity.high", {"expected an integer 0..1048576, found -1"});
}

TEST(ConfigParse, Service) {
  const LoadResult r = parse("[service]\nwatchdog = false\nhardware_watchdog = \"/dev/watchdog0\"\n");
  ASSERT_TRUE(r.ok()) << dump(r);
  EXPECT_FALSE(r.config.service.watchdog);
  EXPECT_EQ(r.config.service.hardware_watchdog, "/dev/watchdog0");
}

TEST(ConfigErrors, ServiceWatchdogDeviceMustBeAnAbsolutePath) {
  expect_one(parse("[service]\nhardware_watchdog = \"watchdog\"\n"), 2, 21, "service.hardware_watchdog",
             {"absolute device path", "\"watchdog\""});
  expect_one(parse("[service]\nwatchdog = \"yes\"\n"), 2, 12, "service.watchdog", {"expected true or false"});
  expect_one(parse("[service]\nwatchdg = true\n"), 2, 1, "service.watchdg", {"did you mean 'watchdog'"});
}

TEST(ConfigErrors, HttpLimitsOutOfRange) {
  const LoadResult r = parse("[http]\nmax_connections = 0\nrate = -1\n");
  ASSERT_EQ(r.errors.size(), 2U) << dump(r);
  EXPECT_EQ(r.errors[0].key, "http.max_connections");
  EXPECT_EQ(r.errors[1].key, "http.rate");
}

TEST(ConfigErrors, AnHttpRateTooSmallToMeanAnything) {
  // 1 / 1e-12 s would overflow the Retry-After computation: refused, and the value kept.
  const LoadResult r = parse("[http]\nrate = 1e-12\n");
  expect_one(r, 2, 8, "http.rate", {"0 (unlimited) or a rate of 0.01..1000000", "1e-12"});
  EXPECT_DOUBLE_EQ(r.config.http.rate, 50);
  const LoadResult lowest = parse("[http]\nrate = 0.01\n");
  ASSERT_TRUE(lowest.ok()) << dump(lowest);
  EXPECT_DOUBLE_EQ(lowest.config.http.rate, 0.01);
  const LoadResult unlimited = parse("[http]\nrate = 0\n");
  ASSERT_TRUE(unlimited.ok()) << dump(unlimited);
  EXPECT_DOUBLE_EQ(unlimited.config.http.rate, 0);
}

TEST(ConfigErrors, HttpHeaderLimitWithinWhatCppHttplibTakes) {
  expect_one(parse("[http]\nmax_header_bytes = 8193\n"), 2, 20, "http.max_header_bytes",
             {"1024..8192, found 8193", "cpp-httplib"});
  expect_one(parse("[http]\nmax_header_bytes = 1023\n"), 2, 20, "http.max_header_bytes", {"1024..8192, found 1023"});
  const LoadResult r = parse("[http]\nmax_header_bytes = 8192\n");
  ASSERT_TRUE(r.ok()) << dump(r);
  EXPECT_EQ(r.config.http.max_header_bytes, 8192U);
}

// --- each kind of error: place, key, words ---

TEST(ConfigErrors, TomlSyntax) {
  const LoadResult r = parse("[engine]\nmax_tasks = = 3\n");
  expect_one(r, 2, 13, "", {"TOML syntax"});
}

TEST(ConfigErrors, WrongType) {
  const LoadResult r = parse("[[engine.worker]]\npriority = \"high\"\n");
  expect_one(r, 2, 12, "engine.worker[0].priority", {"expected an integer 0..99, found the string \"high\""});
}

TEST(ConfigErrors, OutOfRange) {
  const LoadResult r = parse("[http]\nport = 70000\n");
  expect_one(r, 2, 8, "http.port", {"expected an integer 0..65535, found 70000"});
}

TEST(ConfigErrors, UnknownKeyAtTopLevel) {
  const LoadResult r = parse("[egnine]\nmax_tasks = 3\n");
  expect_one(r, 1, 2, "egnine", {"unknown key 'egnine'", "did you mean 'engine'?"});
}

TEST(ConfigErrors, UnknownKeyNestedWithDidYouMean) {
  const LoadResult r = parse("[[periodic]]\nname = \"m\"\nhandler = \"motor_pid\"\nperod = \"1ms\"\n");
  expect_one(r, 4, 1, "periodic[0].perod", {"unknown key 'perod'", "did you mean 'period'?"});
}

TEST(ConfigErrors, UnknownKeyNotCloseHasNoSuggestion) {
  const LoadResult r = parse("[run]\nbanana = 1\n");
  expect_one(r, 2, 1, "run.banana", {"unknown key 'banana'"});
  EXPECT_FALSE(has(r.errors[0].message, "did you mean")) << r.errors[0].str();
}

TEST(ConfigErrors, BadDuration) {
  for (const char* bad : {"1 ms", "10", "fast"}) {
    const LoadResult r = parse(std::string("[run]\nduration = \"") + bad + "\"\n");
    expect_one(r, 2, 12, "run.duration", {"expected a duration", "with its unit", bad});
  }
  // Not a string at all.
  expect_one(parse("[run]\nduration = 10\n"), 2, 12, "run.duration", {"expected a duration", "found the integer 10"});
}

TEST(ConfigErrors, BadEnumWithDidYouMean) {
  const LoadResult r = parse("[[periodic]]\nname = \"m\"\nhandler = \"motor_pid\"\nprecision = \"hybird\"\n");
  expect_one(
      r, 4, 13, "periodic[0].precision",
      {"expected one of \"sleep\", \"hybrid\", \"spin\"", "found the string \"hybird\"", "did you mean \"hybrid\"?"});
}

TEST(ConfigErrors, UnknownHandler) {
  const LoadResult r = parse("[[task]]\nname = \"t\"\nhandler = \"wrk\"\n");
  expect_one(r, 3, 11, "task[0].handler",
             {"no built-in handler is called \"wrk\"", "motor_pid", "did you mean \"work\"?"});
  // A literal catalogue works the same.
  const LoadResult lit =
      rt::config::parse("[[task]]\nname = \"t\"\nhandler = \"x\"\n", "test.toml", LoadOptions{{"a", "b"}, {}, {}});
  expect_one(lit, 3, 11, "task[0].handler", {"(there are: a, b)"});
  // And an empty catalogue takes any name.
  EXPECT_TRUE(rt::config::parse("[[task]]\nname = \"t\"\nhandler = \"x\"\n", "test.toml").ok());
}

TEST(ConfigErrors, UnknownGate) {
  const LoadResult r = parse(R"([engine]
gates = ["actuators"]

[[periodic]]
name = "m"
handler = "motor_pid"
gates = ["actuator"]
)");
  expect_one(r, 4, 1, "periodic[0].gates",
             {"unknown gate 'actuator'", "(engine.gates: actuators)", "did you mean 'actuators'?"});
}

TEST(ConfigErrors, UnknownTaskTypeInPeriodic) {
  const LoadResult r = parse(R"([[task]]
name = "telemetry"
handler = "work"

[[periodic]]
name = "m"
handler = "motor_pid"
type = "telemtry"
)");
  expect_one(r, 5, 1, "periodic[0].type", {"unknown task type 'telemtry'", "declared: task, telemetry"});
}

TEST(ConfigErrors, UnknownTaskTypeInJournal) {
  const LoadResult r = parse("[journal]\npath = \"j\"\ntypes = [\"nope\"]\n");
  expect_one(r, 1, 1, "journal.types", {"unknown task type 'nope'", "declared: task"});
}

TEST(ConfigErrors, DeadlineLongerThanPeriod) {
  const LoadResult r =
      parse("[[periodic]]\nname = \"m\"\nhandler = \"motor_pid\"\nperiod = \"1ms\"\ndeadline = \"2ms\"\n");
  expect_one(r, 5, 12, "periodic[0].deadline", {"expected at most the period (1ms), found 2ms"});
}

TEST(ConfigErrors, HybridMarginNotBelowPeriod) {
  const LoadResult r = parse(R"([[periodic]]
name = "m"
handler = "motor_pid"
period = "100us"
precision = "hybrid"
hybrid_margin = "100us"
)");
  expect_one(r, 1, 1, "periodic[0].hybrid_margin", {"expected less than the period (100us), found 100us"});
  // The margin of a loop that does not spin is not checked.
  EXPECT_TRUE(parse("[[periodic]]\nname = \"m\"\nhandler = \"motor_pid\"\nperiod = \"100us\"\n"
                    "hybrid_margin = \"100us\"\n")
                  .ok());
}

TEST(ConfigErrors, DuplicateNames) {
  LoadResult r = parse("[[task]]\nname = \"t\"\nhandler = \"work\"\n[[task]]\nname = \"t\"\nhandler = \"work\"\n");
  expect_one(r, 5, 8, "task[1].name", {"task type 't' is declared twice (first at line 1)"});
  r = parse("[[periodic]]\nname = \"m\"\nhandler = \"noop\"\n[[periodic]]\nname = \"m\"\nhandler = \"noop\"\n");
  expect_one(r, 5, 8, "periodic[1].name", {"periodic task 'm' is declared twice (first at line 1)"});
  r = parse(R"([[graph]]
name = "g"
  [[graph.node]]
  name = "sense"
[[pipeline]]
name = "g"
stages = ["sense"]
)");
  expect_one(r, 5, 1, "graph", {"workflow 'g' is declared twice (first at line 1)"});
}

// A worker's own idle_spin: absent, -1 (the engine's); set, a duration; not one, an error
// at its line naming the worker.
TEST(Config, WorkerIdleSpin) {
  const LoadResult r = parse(R"([engine]
idle_spin = "20us"
[[engine.worker]]
classes = ["critical"]
idle_spin = "2ms"
[[engine.worker]]
classes = ["high", "normal", "low", "background"]
)");
  ASSERT_TRUE(r.errors.empty()) << dump(r);
  ASSERT_EQ(r.config.engine.workers.size(), 2U);
  EXPECT_EQ(r.config.engine.workers[0].idle_spin, 2 * hal::kNsPerMs);
  EXPECT_EQ(r.config.engine.workers[1].idle_spin, -1);
  EXPECT_EQ(r.config.engine.idle_spin, 20 * hal::kNsPerUs);
  const LoadResult bad = parse("[[engine.worker]]\nidle_spin = \"2s\"\n");
  expect_one(bad, 2, 13, "engine.worker[0].idle_spin", {"expected a duration 0..1s, found 2s"});
}

// node_timing: on unless a workflow says false; a graph's and a pipeline's alike; not a
// boolean is an error naming the key and what it found.
TEST(Config, WorkflowNodeTiming) {
  const LoadResult r = parse(R"([[graph]]
name = "g"
node_timing = false
  [[graph.node]]
  name = "a"
  handler = "sense"
[[graph]]
name = "h"
  [[graph.node]]
  name = "a"
  handler = "sense"
[[pipeline]]
name = "p"
node_timing = false
stages = ["sense"]
)");
  ASSERT_TRUE(r.errors.empty()) << dump(r);
  ASSERT_EQ(r.config.graphs.size(), 3U);
  EXPECT_FALSE(r.config.graphs[0].spec.node_timing);
  EXPECT_TRUE(r.config.graphs[1].spec.node_timing);
  EXPECT_FALSE(r.config.graphs[2].spec.node_timing);
  expect_one(parse("[[graph]]\nname = \"g\"\nnode_timing = \"no\"\n[[graph.node]]\nname = \"a\"\nhandler = "
                   "\"sense\"\n"),
             3, 15, "graph[0].node_timing", {"expected true or false", "\"no\""});
}

TEST(ConfigErrors, GraphCycle) {
  const LoadResult r = parse(R"(# a comment, so the graph is not on line 1
[[graph]]
name = "loop"
  [[graph.node]]
  name = "a"
  handler = "sense"
  after = ["b"]
  [[graph.node]]
  name = "b"
  handler = "sense"
  after = ["a"]
)");
  expect_one(r, 2, 1, "graph[0]", {"cycle", "a -> b -> a"});
}

TEST(ConfigErrors, GraphUnknownDependency) {
  const LoadResult r = parse(R"([[graph]]
name = "g"
  [[graph.node]]
  name = "a"
  handler = "sense"
  after = ["nobody"]
)");
  expect_one(r, 1, 1, "graph[0]", {"nobody"});
}

TEST(ConfigErrors, ClassWithoutWorker) {
  const LoadResult r = parse("[engine]\n[[engine.worker]]\nclasses = [\"critical\", \"high\"]\n");
  expect_one(r, 1, 1, "engine.worker", {"no worker serves", "critical, high, normal, low, background"});
}

TEST(ConfigErrors, UnknownRetryPresetWithDidYouMean) {
  const LoadResult r = parse("[[task]]\nname = \"t\"\nhandler = \"work\"\nretry = \"agressive\"\n");
  expect_one(r, 4, 9, "task[0].retry", {"found \"agressive\"", "did you mean \"aggressive\"?"});
}

TEST(ConfigErrors, EveryErrorIsReportedSortedByLine) {
  const LoadResult r = parse(R"([[task]]
name = "t"
handler = "work"
rate = -1

[run]
stop = "drian"

[engine]
max_tasks = 0
idle_spin = "fast"
)");
  ASSERT_EQ(r.errors.size(), 4U) << dump(r);
  EXPECT_EQ(r.errors[0].key, "task[0].rate");
  EXPECT_EQ(r.errors[0].line, 4);
  EXPECT_EQ(r.errors[1].key, "run.stop");
  EXPECT_EQ(r.errors[1].line, 7);
  EXPECT_TRUE(has(r.errors[1].message, "did you mean \"drain\"?")) << dump(r);
  EXPECT_EQ(r.errors[2].key, "engine.max_tasks");
  EXPECT_EQ(r.errors[2].line, 10);
  EXPECT_EQ(r.errors[3].key, "engine.idle_spin");
  EXPECT_EQ(r.errors[3].line, 11);
}

// --- caps ---

TEST(ConfigCaps, FileTooLarge) {
  const std::string big(rt::config::kMaxFileBytes + 1, '#');
  const LoadResult r = parse(big);
  ASSERT_EQ(r.errors.size(), 1U) << dump(r);
  EXPECT_EQ(r.errors[0].line, 0);
  EXPECT_TRUE(has(r.errors[0].message, "larger than 1048576 bytes")) << r.errors[0].str();
  // Exactly at the cap is still read.
  EXPECT_TRUE(parse(std::string(rt::config::kMaxFileBytes, '#')).ok());
}

TEST(ConfigCaps, NestingDeeperThanTheCap) {
  std::string deep = "[engine]\nx = ";
  for (int i = 0; i < rt::config::kMaxDepth; ++i)
    deep += "[";
  deep += "1";
  for (int i = 0; i < rt::config::kMaxDepth; ++i)
    deep += "]";
  const LoadResult r = parse(deep + "\n");
  ASSERT_EQ(r.errors.size(), 1U) << dump(r);
  EXPECT_EQ(r.errors[0].line, 2);
  EXPECT_TRUE(has(r.errors[0].message, "nested deeper than 8 levels")) << r.errors[0].str();
}

TEST(ConfigCaps, PathologicalArrayNestingIsAnErrorNotACrash) {
  // toml++ stops at TOML_MAX_NESTED_VALUES (256) before it recurses this deep.
  const std::string text = "a=" + std::string(10000, '[');
  const LoadResult r = parse(text);
  ASSERT_EQ(r.errors.size(), 1U) << dump(r);
  EXPECT_EQ(r.errors[0].line, 1);
  EXPECT_TRUE(has(r.errors[0].message, "TOML syntax")) << r.errors[0].str();
}

TEST(ConfigCaps, PathologicalDottedKeyIsAnErrorNotACrash) {
  // toml++ does not cap dotted keys: 60000 segments overflowed the stack in its parser
  // and destructor before the loader scanned for them.
  for (const bool header : {false, true}) {
    std::string key = "a";
    for (int i = 0; i < 200000; ++i)
      key += ".a";
    const std::string text = "# deep\n" + (header ? "[" + key + "]\n" : key + " = 1\n");
    const LoadResult r = parse(text);
    ASSERT_EQ(r.errors.size(), 1U) << dump(r);
    EXPECT_EQ(r.errors[0].line, 2);
    EXPECT_EQ(r.errors[0].column, header ? 2 : 1);
    EXPECT_TRUE(has(r.errors[0].message, "nested deeper than 8 levels")) << r.errors[0].str();
  }
  // Keys of the cap's length, dots in strings, comments and floats are not deep keys.
  const LoadResult shallow = parse(
      "[logging]\ndestination = \"a.b.c.d.e.f.g.h.i.j.k\" # x.y.z.a.b.c.d.e.f.g\n"
      "[retry.r]\nmultiplier = 1.5\n\"strategy\" = 'fixed'\ninitial_delay = \"1ms\"\n");
  EXPECT_TRUE(shallow.ok()) << dump(shallow);
  const LoadResult nine = parse("a.b.c.d.e.f.g.h.i = 1\n");
  ASSERT_FALSE(nine.ok());
  EXPECT_TRUE(has(nine.errors[0].message, "nested deeper than 8 levels")) << dump(nine);
}

TEST(ConfigCaps, NonAsciiOutsideStringsIsAnErrorBeforeTomlPlusPlus) {
  // toml++ 3.3's non-ASCII whitespace test reaches TOML_UNREACHABLE for these (found by
  // the fuzzer); TOML 1.0 allows them only in strings and comments.
  LoadResult r = parse("[run]\nstop = \u0422\n");
  expect_one(r, 2, 8, "", {"TOML syntax", "non-ASCII character outside a string or comment"});
  r = parse("[logging]\ndestination = \"\"\"log\\\n  \u0436.txt\"\"\"\n");
  expect_one(r, 3, 3, "", {"non-ASCII character right after a backslash"});
  // toml++ reads ahead over a bare value, quotes included.
  r = parse("[run]\nstop = 0\"\u0422\"\n");
  expect_one(r, 2, 10, "", {"non-ASCII character outside a string or comment"});
  r = parse("[engine]\ngates = [\n  \"a\",\n  +'\u0436']\n");
  expect_one(r, 4, 5, "", {"non-ASCII character outside a string or comment"});
  // In keys and inline tables, quoted non-ASCII is fine (and an unknown key here).
  r = parse("[logging]\nlevel = \"warn\"\nx.\"\u0436\" = { \"\u0436\" = \"\u0436\" }\n");
  expect_one(r, 3, 1, "logging.x", {"unknown key 'x'"});
  // Where TOML allows them, they are read.
  r = parse(
      "# \u041f\u0440\u0438\u0432\u0435\u0442\n[logging]\ndestination = \"\u0436.log\" # \u00e9\n"
      "[tracing]\nfile = '''\u0436\n\u0436'''\n[http]\ntoken = \"\"\"\u0436\\n\u0436\"\"\"\n");
  ASSERT_TRUE(r.ok()) << dump(r);
  EXPECT_EQ(r.config.logging.destination, "\u0436.log");
}

// --- files, diagnostics, helpers ---

TEST(ConfigLoad, MissingFileCannotBeOpened) {
  const LoadResult r = rt::config::load("/nonexistent/rtengine/missing.toml");
  ASSERT_EQ(r.errors.size(), 1U);
  EXPECT_EQ(r.errors[0].file, "/nonexistent/rtengine/missing.toml");
  EXPECT_EQ(r.errors[0].line, 0);
  EXPECT_TRUE(has(r.errors[0].message, "cannot open")) << r.errors[0].str();
  EXPECT_TRUE(has(r.errors[0].message, "No such file")) << r.errors[0].str();
}

TEST(ConfigLoad, ReadsAFile) {
  const std::filesystem::path p = std::filesystem::path(::testing::TempDir()) / "rt_config_load_test.toml";
  { std::ofstream(p) << "[http]\nport = 99999\n"; }
  const LoadResult r = rt::config::load(p);
  std::filesystem::remove(p);
  ASSERT_EQ(r.errors.size(), 1U) << dump(r);
  EXPECT_EQ(r.errors[0].file, p.string());
  EXPECT_EQ(r.errors[0].line, 2);
}

TEST(ConfigDiagnostic, Str) {
  EXPECT_EQ((Diagnostic{"f.toml", 3, 7, "run.stop", "bad"}).str(), "f.toml:3:7: run.stop: bad");
  EXPECT_EQ((Diagnostic{"f.toml", 3, 7, "", "bad"}).str(), "f.toml:3:7: bad");
  EXPECT_EQ((Diagnostic{"f.toml", 0, 0, "", "too big"}).str(), "f.toml: too big");
}

TEST(ConfigHelpers, ParseDuration) {
  using hal::kNsPerMs;
  using hal::kNsPerSec;
  using hal::kNsPerUs;
  struct Case {
    const char* text;
    rt::ns_t ns;
  };
  for (const Case& c : {Case{"0", 0}, Case{"100ns", 100}, Case{"250us", 250 * kNsPerUs}, Case{"1ms", kNsPerMs},
                        Case{"2.5s", 2500 * kNsPerMs}, Case{"1min", 60 * kNsPerSec}, Case{".5ms", 500 * kNsPerUs},
                        Case{"0ms", 0}, Case{"1.5us", 1500}, Case{"3\u00b5s", 3 * kNsPerUs}}) {
    rt::ns_t v = -1;
    EXPECT_TRUE(rt::config::parse_duration(c.text, v)) << c.text;
    EXPECT_EQ(v, c.ns) << c.text;
  }
  for (const char* bad :
       {"", "10", "1 ms", "fast", "ms", "-1ms", "1msec", "1h", "1e3ms", ".", "1..5ms", "99999999999999999999min"}) {
    rt::ns_t v = 7;
    EXPECT_FALSE(rt::config::parse_duration(bad, v)) << bad;
    EXPECT_EQ(v, 7) << "left alone on failure: " << bad;
  }
}

TEST(ConfigHelpers, EditDistance) {
  EXPECT_EQ(rt::config::edit_distance("", ""), 0U);
  EXPECT_EQ(rt::config::edit_distance("period", "period"), 0U);
  EXPECT_EQ(rt::config::edit_distance("perod", "period"), 1U);
  EXPECT_EQ(rt::config::edit_distance("hybird", "hybrid"), 2U);
  EXPECT_EQ(rt::config::edit_distance("kitten", "sitting"), 3U);
  EXPECT_EQ(rt::config::edit_distance("", "abc"), 3U);
  EXPECT_EQ(rt::config::edit_distance("abc", ""), 3U);
  EXPECT_EQ(rt::config::edit_distance("abc", "cba"), rt::config::edit_distance("cba", "abc"));
  // Capped: no typo hunt in long text.
  EXPECT_GT(rt::config::edit_distance(std::string(100, 'a'), std::string(100, 'a')), 2U);
}

}  // namespace

namespace {

// --- what `run` would refuse, caught by the loader ---

TEST(ConfigErrors, AHandlerInARoleItCannotPlay) {
  expect_one(parse("[[task]]\nname = \"t\"\nhandler = \"sense\"\n"), 3, 11, "task[0].handler",
             {"\"sense\"", "only as a workflow node"});
  expect_one(parse("[[periodic]]\nname = \"p\"\nhandler = \"actuate\"\n"), 3, 11, "periodic[0].handler",
             {"only as a workflow node"});
  expect_one(parse("[[graph]]\nname = \"g\"\n[[graph.node]]\nname = \"n\"\nhandler = \"motor_pid\"\n"), 5, 11,
             "graph[0].node[0].handler", {"only as a [[periodic]] task"});
  expect_one(parse("[[saga]]\nname = \"s\"\n[[saga.step]]\nname = \"a\"\naction = \"work\"\ncompensation = "
                   "\"control\"\n"),
             6, 16, "saga[0].step[0].compensation", {"only as a workflow node"});
}

TEST(ConfigErrors, ARateTooSmallToMeanAnything) {
  expect_one(parse("[[task]]\nname = \"t\"\nhandler = \"work\"\nrate = 1e-12\n"), 4, 8, "task[0].rate",
             {"0.01..1000000", "1e-12"});
  EXPECT_TRUE(parse("[[task]]\nname = \"t\"\nhandler = \"work\"\nrate = 0.01\n").ok());
}

TEST(ConfigErrors, ALoopOnAWorkerThatIsNotStarted) {
  const LoadResult r = parse(
      "[engine]\ninitial_workers = 1\n[[engine.worker]]\nclasses = \"all\"\n[[engine.worker]]\nclasses = "
      "\"all\"\n[[periodic]]\nname = \"p\"\nhandler = \"work\"\nworker = 1\n");
  expect_one(r, 7, 1, "periodic[0].worker", {"worker 1 is not started", "initial_workers = 1"});
}

TEST(ConfigErrors, APeriodicWorkflowsPeriodAndMargin) {
  const std::string nodes = "[[graph.node]]\nname = \"n\"\nhandler = \"work\"\n";
  expect_one(parse("[[graph]]\nname = \"g\"\nperiod = \"5us\"\n" + nodes), 1, 1, "workflow 'g'.period",
             {"10us..1h", "5us"});
  expect_one(parse("[[graph]]\nname = \"g\"\nperiod = \"100us\"\nprecision = \"hybrid\"\nhybrid_margin = "
                   "\"100us\"\n" +
                   nodes),
             1, 1, "workflow 'g'.hybrid_margin", {"less than the period"});
}

}  // namespace
