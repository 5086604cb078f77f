// The README's "Workflows and resilience" examples, compiled and run as written there
// (kept in step by hand: a change here is a change to the README).
#include <gtest/gtest.h>

#include <stdexcept>

#include "engine_test_support.hpp"
#include "rt/engine.hpp"
#include "rt/event_bus.hpp"

namespace {

using testing_support::eventually;

struct Frame {
  double speed = 0, estimate = 0, command = 0;
};
rt::Snapshotted<Frame> g_frame;
void sense(rt::TaskContext&) { g_frame.value.speed += 1.0; }
void estimate(rt::TaskContext&) { g_frame.value.estimate = g_frame.value.speed; }
void control(rt::TaskContext&) { g_frame.value.command = -0.5 * g_frame.value.estimate; }
void actuate(rt::TaskContext&) {}
int g_attempts = 0;
void call_the_plc() {
  if (++g_attempts < 3) throw std::runtime_error("plc: timeout");
}

TEST(Readme, WorkflowsAndResilience) {
  rt::EngineConfig cfg = testing_support::small_config(2);
  cfg.workers[0].classes = 0;  // README: {.cpu = 1, .priority = 90, .classes = 0}
  cfg.task_types = {"task", "plc"};
  cfg.breakers = {{.type = "plc", .failure_threshold = 5, .window = hal::kNsPerSec, .cool_down = 2 * hal::kNsPerSec}};
  rt::Engine engine(cfg);

  // ---- README: DAG workflow ----
  rt::HandlerRegistry handlers;
  handlers.add("sense", sense);
  handlers.add("estimate", estimate);
  handlers.add("control", control);
  handlers.add("actuate", actuate);
  int frame = engine.add_graph(rt::GraphBuilder("frame")
                                   .node("sense", "sense")
                                   .node("estimate", "estimate", {"sense"})
                                   .node("control", "control", {"estimate"})
                                   .node_state(g_frame.binding())  // rolled back if it fails
                                   .node("actuate", "actuate", {"control"})
                                   .deadline(5 * hal::kNsPerMs)  // the whole graph, enforced by the monitor
                                   .build(),
                               handlers);  // throws GraphError: cycle, unknown dependency...
  int loop = engine.add_periodic_graph({.name = "frame", .period = 10 * hal::kNsPerMs, .worker = 0}, frame);
  // ---- README: saga ----
  rt::HandlerRegistry steps;
  steps.add("book", [] {});
  steps.add("unbook", [] {});
  steps.add("charge", [] {});
  int order =
      engine.add_saga(rt::SagaBuilder("order").step("book", "book", "unbook").step("charge", "charge").build(), steps);
  // ---- README: event bus ----
  rt::EventBus bus(engine);
  std::atomic<int> dead{0};
  bus.subscribe({.kinds = rt::event_bit(rt::EventKind::DeadLettered) | rt::event_bit(rt::EventKind::CircuitOpened)},
                [&dead](const rt::Event&) { dead.fetch_add(1); });  // a non-RT thread; may throw, isolated
  bus.start();
  engine.start();
  rt::Producer producer = engine.make_producer();

  engine.start_periodic(loop);                                     // a frame every 10 ms on the absolute grid
  rt::GraphRunStatus run = engine.try_run_graph(producer, frame);  // or one run now: Started, Busy...
  (void)run;
  rt::GraphRunStatus booked = engine.try_run_saga(producer, order);
  EXPECT_EQ(booked, rt::GraphRunStatus::Started);

  // ---- README: retry, dead letters, breakers ----
  rt::TaskId id;
  rt::RetryPolicy retry = rt::retry_preset(rt::RetryPreset::Quick);  // 3 retries, 0.1 s x1.5, cap 5 s
  retry.initial_delay = 2 * hal::kNsPerMs;                           // (shorter here: a test)
  auto status = producer.try_submit([] { call_the_plc(); },
                                    {.type = static_cast<rt::TypeId>(engine.type_index("plc")), .retry = retry}, &id);
  EXPECT_EQ(status, rt::SubmitStatus::Ok);  // CircuitOpen while the plc breaker is open
  ASSERT_TRUE(eventually([&] {
    rt::TaskInfo info;
    return engine.status(id, info) && info.state == rt::State::Completed && info.attempts == 3;
  }));
  for (const rt::DeadLetter& d : engine.dead_letters())  // exhausted tasks, with their last error
    engine.redrive(producer, d.seq);                     // submitted again with fresh attempts

  ASSERT_TRUE(eventually([&] { return engine.graph_stats(frame).completed_runs >= 3; }));
  rt::GraphStats gs = engine.graph_stats(frame);  // per node: state, durations min/avg/max; runs
  // Not `failed_runs == 0`: under an emulator a frame can overrun its 5 ms deadline.
  EXPECT_GE(gs.runs, gs.completed_runs + gs.failed_runs);
  EXPECT_EQ(gs.nodes.size(), 4U);
  ASSERT_TRUE(eventually([&] { return engine.saga_stats(order).completed == 1; }));
  engine.stop_periodic(loop);
  EXPECT_TRUE(engine.stop(rt::StopMode::Drain).balanced);
  bus.stop();
  EXPECT_EQ(dead.load(), 0);
}

}  // namespace
