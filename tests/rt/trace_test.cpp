// F23: the trace exporter. The file of a real run is valid JSON in Chrome's trace-event
// format with metadata, complete and instant events, and no span ends before it starts;
// the window keeps only the last N events, or the last S nanoseconds of them. The
// recorder is declared after the bus it attaches to.
#include "rt/trace.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

#include <fstream>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <system_error>

#include "engine_test_support.hpp"
#include "observe_support.hpp"
#include "rt/event_bus.hpp"

using nlohmann::json;
using rt::EventKind;

namespace {

std::string temp_path(const std::string& name) {
  return ::testing::TempDir() + "rt_trace_" + std::to_string(::getpid()) + "_" + name;
}

std::vector<json> with_phase(const json& doc, const std::string& ph) {
  std::vector<json> out;
  for (const json& ev : doc.at("traceEvents"))
    if (ev.at("ph") == ph) out.push_back(ev);
  return out;
}

rt::Event periodic_run(std::uint64_t id, hal::ns_t at, hal::ns_t dur) {
  return rt::Event{.kind = EventKind::PeriodicRun,
                   .subject = rt::Subject::Periodic,
                   .worker = 0,
                   .aux = 1000,
                   .id = id,
                   .at = at,
                   .value = dur};
}

}  // namespace

TEST(Trace, ARunExportsValidChromeTraceJson) {
  const std::string path = temp_path("run.json");
  rt::Engine e(observe_support::mixed_config());
  const int loop = observe_support::add_loop(e);
  rt::EventBus bus(e, observe_support::quiet_bus());
  rt::TraceRecorder trace(e, {.capacity = 4096});
  trace.attach(bus);
  EXPECT_NE(e.event_interest() & rt::event_bit(EventKind::PeriodicRun), 0U);
  EXPECT_NE(e.event_interest() & rt::event_bit(EventKind::Completed), 0U);
  observe_support::run_mixed(e, bus, loop, [&] { return e.periodic_stats(loop).runs; });
  trace.detach();
  trace.write_file(path);

  std::ifstream f(path);
  const json doc = json::parse(f);  // throws, failing the test, if not JSON
  ASSERT_TRUE(doc.at("traceEvents").is_array());
  EXPECT_EQ(doc.at("displayTimeUnit"), "ms");
  EXPECT_TRUE(doc.at("otherData").is_object());
  EXPECT_EQ(doc.at("otherData").at("engine_events_dropped").get<std::uint64_t>(), e.events_dropped());

  std::set<std::string> thread_names;
  for (const json& m : with_phase(doc, "M")) {
    if (m.at("name") == "thread_name") thread_names.insert(m.at("args").at("name").get<std::string>());
  }
  EXPECT_TRUE(thread_names.count("worker 0") && thread_names.count("worker 1") && thread_names.count("monitor"));

  const auto spans = with_phase(doc, "X");
  const auto instants = with_phase(doc, "i");
  ASSERT_FALSE(spans.empty());
  ASSERT_FALSE(instants.empty());  // the timed-out task: a deadline miss, or its timeout before it started
  std::size_t periodic = 0, tasks = 0;
  for (const json& x : spans) {
    // Every span's end is after its start, and nothing is before the window's start.
    EXPECT_GE(x.at("ts").get<double>(), 0.0) << x.dump();
    EXPECT_GE(x.at("dur").get<double>(), 0.0) << x.dump();
    EXPECT_TRUE(x.at("pid").is_number() && x.at("tid").is_number() && x.at("name").is_string());
    if (x.at("cat") == "periodic") {
      ++periodic;
      EXPECT_EQ(x.at("name"), "pid");
      EXPECT_EQ(x.at("tid"), 0);
      EXPECT_GE(x.at("args").at("lateness_us").get<double>(), 0.0);
    }
    if (x.at("cat") == "task") {
      ++tasks;
      EXPECT_EQ(x.at("tid"), 1);
    }
  }
  EXPECT_GE(periodic, 5U);
  EXPECT_GE(tasks, 4U);  // three completed and the one that threw
  for (const json& i : instants) {
    EXPECT_GE(i.at("ts").get<double>(), 0.0);
    EXPECT_EQ(i.at("s"), "t");
  }
  ::unlink(path.c_str());
}

TEST(Trace, TheWindowKeepsTheLastNEvents) {
  rt::Engine e(observe_support::mixed_config());
  (void)observe_support::add_loop(e);
  rt::TraceRecorder trace(e, {.capacity = 4});
  for (std::uint64_t i = 0; i < 10; ++i)
    trace.record(periodic_run(0, 1'000'000'000 + static_cast<hal::ns_t>(i) * hal::kNsPerMs, 200'000));
  const rt::TraceStats st = trace.stats();
  EXPECT_EQ(st.recorded, 10U);
  EXPECT_EQ(st.overwritten, 6U);
  EXPECT_EQ(st.kept, 4U);
  const json doc = json::parse(trace.to_json());
  const auto spans = with_phase(doc, "X");
  ASSERT_EQ(spans.size(), 4U);
  // The last four, 1 ms apart, the first of them at the window's start.
  for (std::size_t k = 0; k < spans.size(); ++k) {
    EXPECT_DOUBLE_EQ(spans[k].at("ts").get<double>(), 1000.0 * static_cast<double>(k));
    EXPECT_DOUBLE_EQ(spans[k].at("dur").get<double>(), 200.0);
    EXPECT_EQ(spans[k].at("name"), "pid");
  }
  EXPECT_EQ(doc.at("otherData").at("overwritten"), 6);
}

TEST(Trace, TheWindowCanKeepOnlyTheLastSeconds) {
  rt::Engine e(observe_support::mixed_config());
  rt::TraceRecorder trace(e, {.capacity = 100, .window = 3 * hal::kNsPerMs});
  for (std::uint64_t i = 0; i < 10; ++i)
    trace.record(periodic_run(0, static_cast<hal::ns_t>(i) * hal::kNsPerMs, 100'000));
  // A graph run (on its graph's track) and a stall (on the monitor's), inside the window.
  trace.record(rt::Event{.kind = EventKind::WorkflowCompleted,
                         .subject = rt::Subject::Workflow,
                         .worker = 1,
                         .workflow = 1,
                         .id = 0,
                         .at = 9 * hal::kNsPerMs,
                         .value = 500'000});
  trace.record(rt::Event{.kind = EventKind::WorkerStalled,
                         .subject = rt::Subject::Worker,
                         .reason = rt::Reason::DeadlineMissed,
                         .worker = 1,
                         .id = 1,
                         .at = 9 * hal::kNsPerMs,
                         .value = 50'000'000});
  const json doc = json::parse(trace.to_json());
  const auto spans = with_phase(doc, "X");
  // at 6, 7, 8, 9 ms: those within 3 ms of the newest; and the graph run.
  ASSERT_EQ(spans.size(), 5U);
  std::size_t graph = 0;
  for (const json& x : spans) {
    EXPECT_GE(x.at("ts").get<double>(), 0.0);
    EXPECT_GE(x.at("dur").get<double>(), 0.0);
    if (x.at("cat") == "graph") {
      ++graph;
      EXPECT_EQ(x.at("tid"), 2000);  // the first graph's track
    }
  }
  EXPECT_EQ(graph, 1U);
  const auto instants = with_phase(doc, "i");
  ASSERT_EQ(instants.size(), 1U);
  EXPECT_EQ(instants[0].at("name"), "worker_stalled");
  EXPECT_EQ(instants[0].at("tid"), 1000);  // the monitor's
}

TEST(Trace, AnUnwritablePathIsNamedAndAZeroCapacityRefused) {
  rt::Engine e(testing_support::small_config());
  EXPECT_THROW(rt::TraceRecorder(e, {.capacity = 0}), std::invalid_argument);
  rt::TraceRecorder trace(e);
  const std::string bad = temp_path("no_such_dir") + "/t.json";
  try {
    trace.write_file(bad);
    FAIL() << "wrote " << bad;
  } catch (const std::system_error& ex) {
    EXPECT_NE(std::string(ex.what()).find(bad), std::string::npos) << ex.what();
  }
  // An empty window is still a valid trace.
  const json doc = json::parse(trace.to_json());
  EXPECT_TRUE(with_phase(doc, "X").empty());
  EXPECT_FALSE(with_phase(doc, "M").empty());
}
