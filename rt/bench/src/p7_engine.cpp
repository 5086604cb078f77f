// P7's engine side: a graph re-run back to back, one run at a time, in a fresh engine per
// block (built, started and stopped outside the samples). A sample is one run, from just
// before try_run_graph to the last node's end (the last node stamps the clock); per node
// is that over the nodes. Port of bench/rt/workflow_bench.cpp's chain and wide graphs.
#include <atomic>
#include <string>
#include <utility>
#include <vector>

#include "hal/clock.hpp"
#include "hal/thread.hpp"
#include "p7_parts.hpp"
#include "rt/engine.hpp"
#include "rt/graph.hpp"

namespace rt::bench::p7 {
namespace {

// Stamped by a run's last node.
struct RunEnd {
  std::atomic<ns_t> at{0};
};

// "body": the node body; "last": the body, then the clock into `end`.
HandlerRegistry run_handlers(RunEnd* end) {
  HandlerRegistry h;
  h.add("body", [] { node_body(); });
  h.add("last", [end] {
    node_body();
    end->at.store(hal::now_ns(), std::memory_order_release);
  });
  return h;
}

GraphSpec chain_spec(int nodes, bool node_timing) {
  std::vector<std::pair<std::string, std::string>> stages;
  stages.reserve(static_cast<std::size_t>(nodes));
  for (int i = 0; i < nodes; ++i)
    stages.emplace_back("n" + std::to_string(i), i + 1 == nodes ? "last" : "body");
  GraphSpec g = pipeline("chain", stages);
  g.node_timing = node_timing;
  return g;
}

GraphSpec wide_spec(int width) {
  GraphBuilder b("wide");
  b.node("source", "body");
  std::vector<std::string> middle;
  for (int i = 0; i < width; ++i) {
    middle.push_back("m" + std::to_string(i));
    b.node(middle.back(), "body", {"source"});
  }
  b.node("sink", "last", middle);
  return b.build();
}

// kWarmupRuns + runs(s) runs back to back. A Busy answer means the previous run's last
// node has stamped but its worker has not closed the run yet: tried again, with a new t0.
std::string time_runs(const Settings& s, Engine& e, Producer& p, int graph, RunEnd& end, std::vector<ns_t>& out) {
  const int total = kWarmupRuns + runs(s);
  out.reserve(static_cast<std::size_t>(total));
  for (int i = 0; i < total; ++i) {
    end.at.store(0, std::memory_order_relaxed);
    ns_t t0 = 0;
    GraphRunStatus st = GraphRunStatus::Busy;
    const ns_t give_up = hal::now_ns() + kStuck;
    while (st == GraphRunStatus::Busy && hal::now_ns() < give_up) {
      t0 = hal::now_ns();
      st = e.try_run_graph(p, graph);
    }
    if (st != GraphRunStatus::Started) return "try_run_graph: " + std::string(to_string(st));
    ns_t t1 = 0;
    std::uint32_t spins = 0;
    while ((t1 = end.at.load(std::memory_order_acquire)) == 0) {
      if (++spins % 4096 == 0 && hal::now_ns() - t0 > kStuck) return "a run did not end within 1 s";
    }
    if (i >= kWarmupRuns) out.push_back(t1 - t0);
  }
  return {};
}

// One block: `cfg`'s engine runs `spec` from a driver thread `driver`.
Block graph_block(const Settings& s, EngineConfig cfg, const GraphSpec& spec, int nodes, hal::ThreadSpec driver) {
  cfg.monitor.cpu = s.side_cpu;
  cfg.pm_qos.enabled = s.pm_qos;
  RunEnd end;
  Engine e(cfg);
  const int graph = e.add_graph(spec, run_handlers(&end));
  e.start();
  Producer producer = e.make_producer();
  std::vector<ns_t> durations;
  std::string error;
  hal::Thread t(std::move(driver), [&] { error = time_runs(s, e, producer, graph, end, durations); });
  t.join();
  (void)e.stop(StopMode::Drain);
  if (!error.empty()) return failed(error);
  Block b = cost_of_runs(std::move(durations), nodes);
  // The engine's own figure (started -> last node's end, warm-ups included): the run's
  // start and handoff are what the difference with the block's value leaves.
  const GraphStats gs = e.graph_stats(graph);
  b.extra.emplace_back("GraphStats mean ns/node", gs.duration.mean / nodes);
  return b;
}

}  // namespace

// One worker on the measured CPU; the driver beside it on the side CPU, as RT as it.
Block engine_chain_block(const Settings& s, bool node_timing) {
  EngineConfig c;
  c.workers = {WorkerConfig{.cpu = s.cpu, .priority = s.priority, .classes = kAllClasses}};
  return graph_block(s, c, chain_spec(kChainNodes, node_timing), kChainNodes,
                     {.name = "bench-driver", .cpu = s.side_cpu, .priority = s.priority});
}

// Two workers, one per CPU. The driver is SCHED_OTHER on the side CPU: both CPUs have a
// SCHED_FIFO worker, so it runs when worker 0 sleeps, and each run starts by waking a worker.
Block engine_wide_block(const Settings& s) {
  EngineConfig c;
  c.workers = {WorkerConfig{.cpu = s.side_cpu, .priority = s.priority, .classes = kAllClasses},
               WorkerConfig{.cpu = s.cpu, .priority = s.priority, .classes = kAllClasses}};
  return graph_block(s, c, wide_spec(kWideNodes), kWideNodes + 2, {.name = "bench-driver", .cpu = s.side_cpu});
}

}  // namespace rt::bench::p7
