// P7's baselines: the engine's node bodies run without the engine, on one thread pinned
// and prioritised as the engine's worker (its own per block), PM QoS held as the engine
// would.
//
// 1. "direct": each body called through a function pointer, then one atomic decrement of
//    the join counter of the node it makes ready -- SPEC P7's words for Taskflow's chain,
//    "a call plus one atomic per node". It is the floor: no runtime does less.
// 2. "Taskflow model": what Taskflow's executor really does per node of a linear chain on
//    one worker. Taskflow is not packaged in Debian (bookworm has no libtaskflow-cpp-dev),
//    so the bench cannot link it; tfm below re-implements the path a static task takes
//    through Taskflow v3.6's Executor::_invoke (taskflow/core/executor.hpp), step by step,
//    and nothing else. Per node, in order:
//      - _is_cancelled(): a relaxed load of the topology's state;
//      - the semaphores pointer tested (none here);
//      - a switch on the handle's variant index (STATIC), then _invoke_static_task: the
//        observers' on_entry loop (an empty std::unordered_set), a switch on the work's
//        variant index (a plain callable, not one taking a tf::Runtime), the call through
//        std::function, the on_exit loop -- in a try block;
//      - the node's state tested for CONDITIONED, and its join counter re-armed for the
//        next run: fetch_add(num_dependents), relaxed;
//      - per successor: fetch_sub(1, acq_rel) of its join counter; when it reaches zero,
//        fetch_add(1) of the topology's join counter, and the successor becomes the
//        worker's cache (the one with the highest priority; others would be pushed to the
//        worker's queue);
//      - _tear_down_invoke: fetch_sub(1, acq_rel) of the topology's join counter;
//      - the cache taken as the next node without a queue (Taskflow's "tail recursion
//        elimination": goto begin_invoke).
//    A run starts as Executor::run's _set_up_topology: every node's topology, parent and
//    state set and its join counter counted from its dependents (_set_up_graph), the
//    sources marked READY and queued; the worker pops a source and invokes it. What the
//    model leaves out favours Taskflow: the run's shared_ptr<Topology>, its promise and
//    mutexes, and the wake-up of a worker -- the model's "worker" is the thread that
//    starts the run, while the engine's figure includes its hot handoff to its worker.
#include <algorithm>
#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <unordered_set>
#include <variant>
#include <vector>

#include "hal/clock.hpp"
#include "hal/cpu.hpp"
#include "hal/thread.hpp"
#include "p7_parts.hpp"

namespace rt::bench::p7 {

namespace {
thread_local volatile std::uint64_t t_work = 0;

// A join counter per node, one line each as a runtime's node objects.
struct alignas(hal::kCacheLine) Join {
  std::atomic<std::uint32_t> v{0};
};

// ns at the median of `v` (sorted in place); 0 when empty.
ns_t at(std::vector<ns_t>& v, double q) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  const auto i = static_cast<std::size_t>(q * static_cast<double>(v.size() - 1));
  return v[i];
}
}  // namespace

[[gnu::noinline]] void node_body() noexcept { t_work = t_work + 1; }

int runs(const Settings& s) noexcept { return std::max(10, s.samples); }

Block cost_of_runs(std::vector<ns_t> durations, int nodes) {
  Block b;
  if (durations.empty()) {
    b.error = "no run measured";
    return b;
  }
  const double n = nodes;
  const ns_t p50 = at(durations, 0.5);
  const ns_t p99 = at(durations, 0.99);
  b.value = static_cast<double>(p50) / n;
  b.extra = {{"p99 run ns/node", static_cast<double>(p99) / n}, {"median run ns", static_cast<double>(p50)}};
  return b;
}

std::vector<std::uint32_t> chain_next(int nodes) {
  std::vector<std::uint32_t> next(static_cast<std::size_t>(nodes));
  for (std::size_t j = 0; j < next.size(); ++j)
    next[j] = static_cast<std::uint32_t>(j + 1);
  return next;
}

std::vector<std::uint32_t> wide_next(int width) {
  const auto w = static_cast<std::uint32_t>(width);
  std::vector<std::uint32_t> next(w + 2, w + 1);
  next[0] = 1;
  next[w + 1] = w + 2;
  return next;
}

// Node j's body through a function pointer (a call, as a runtime makes), then one atomic
// decrement of the join counter of next[j]. The counters are reset outside the timed loop.
Block direct_block(const Settings& s, const std::vector<std::uint32_t>& next) {
  const PmQosHold qos(s);
  const std::size_t n = next.size();
  std::vector<std::uint32_t> initial(n + 1, 0);
  for (const std::uint32_t j : next)
    ++initial[j];
  std::vector<Join> join(n + 1);
  const std::vector<void (*)() noexcept> body(n, &node_body);
  std::vector<ns_t> lat;
  std::size_t ready = 0;
  hal::Thread t({.name = "bench-direct", .cpu = s.cpu, .priority = s.priority}, [&] {
    const int total = kWarmupRuns + runs(s);
    lat.reserve(static_cast<std::size_t>(total));
    for (int i = 0; i < total; ++i) {
      for (std::size_t j = 0; j <= n; ++j)
        join[j].v.store(initial[j], std::memory_order_relaxed);
      const ns_t t0 = hal::now_ns();
      for (std::size_t j = 0; j < n; ++j) {
        body[j]();
        ready += join[next[j]].v.fetch_sub(1, std::memory_order_acq_rel) == 1 ? 1 : 0;
      }
      const ns_t t1 = hal::now_ns();
      if (i >= kWarmupRuns) lat.push_back(t1 - t0);
    }
  });
  t.join();
  if (ready == 0) return failed("no join counter reached zero");  // keeps the decrements' results live
  return cost_of_runs(std::move(lat), static_cast<int>(n));
}

}  // namespace rt::bench::p7

// ---- the Taskflow model (see the top of the file) ----

namespace rt::bench::p7::tfm {
namespace {

struct Topology {
  static constexpr int kCancelled = 1;
  std::atomic<int> state{0};
  std::atomic<std::size_t> join_counter{0};
  bool done = false;  // set by the tear-down of the run
};

struct Node;
// tf::Runtime's stand-in: a task taking one gets the executor's context.
struct Runtime {
  Node* node;
};
// tf::Node::Static: its work is a plain callable or one taking a tf::Runtime.
struct Static {
  std::variant<std::function<void()>, std::function<void(Runtime&)>> work;
};

struct Node {
  static constexpr int kConditioned = 1 << 0;
  static constexpr int kReady = 1 << 3;
  std::string name;
  unsigned priority = 0;
  Topology* topology = nullptr;
  Node* parent = nullptr;
  std::vector<Node*> successors, dependents;  // tf::SmallVector<Node*>
  std::atomic<int> state{0};
  std::atomic<std::size_t> join_counter{0};
  // tf::Node::_handle: monostate, Static, Dynamic, Condition, Module, Async...; the model's
  // nodes are all Static, the variant is kept for its index switch.
  std::variant<std::monostate, Static> handle;
  void* semaphores = nullptr;  // tf::Node::_semaphores: none here

  [[nodiscard]] bool is_cancelled() const noexcept {
    return topology != nullptr && (topology->state.load(std::memory_order_relaxed) & Topology::kCancelled) != 0;
  }
  [[nodiscard]] std::size_t num_dependents() const noexcept { return dependents.size(); }
  [[nodiscard]] std::size_t num_strong_dependents() const noexcept {
    std::size_t c = 0;
    for (const Node* p : dependents)
      c += p->handle.index() == 1 ? 1 : 0;
    return c;
  }
  // As tf::Node::_set_up_join_counter: strong dependencies counted, conditioners flagged.
  void set_up_join_counter() noexcept {
    std::size_t c = 0;
    for (const Node* p : dependents) {
      if (p->handle.index() != 1) {  // a condition task: a weak dependency
        state.fetch_or(kConditioned, std::memory_order_relaxed);
      } else {
        ++c;
      }
    }
    join_counter.store(c, std::memory_order_relaxed);
  }
};

struct Observer {
  Observer() = default;
  Observer(const Observer&) = delete;
  Observer& operator=(const Observer&) = delete;
  virtual ~Observer() = default;
  virtual void on_entry(const Node& n) noexcept = 0;
  virtual void on_exit(const Node& n) noexcept = 0;
};

class Executor {
 public:
  explicit Executor(std::size_t nodes) {
    queue_.reserve(nodes);
    sources_.reserve(nodes);
  }

  // Executor::run: _set_up_topology, then the worker pops each queued node and invokes it.
  void run(Topology& tpg, Node* nodes, std::size_t n) noexcept {
    sources_.clear();
    tpg.done = false;
    for (std::size_t i = 0; i < n; ++i) {  // _set_up_graph
      Node& node = nodes[i];
      node.topology = &tpg;
      node.parent = nullptr;
      node.state.store(0, std::memory_order_relaxed);
      if (node.num_dependents() == 0) sources_.push_back(&node);
      node.set_up_join_counter();
    }
    tpg.join_counter.store(sources_.size(), std::memory_order_relaxed);
    for (Node* s : sources_)
      schedule(s);
    while (!queue_.empty()) {
      Node* node = queue_.back();
      queue_.pop_back();
      invoke(node);
    }
  }

 private:
  void schedule(Node* node) noexcept {
    node->state.fetch_or(Node::kReady, std::memory_order_release);
    queue_.push_back(node);  // reserved: never grows
  }

  void invoke(Node* node) noexcept {
    while ((node->state.load(std::memory_order_acquire) & Node::kReady) == 0) {
    }
    for (;;) {
      if (node->is_cancelled()) return;         // not taken here (no run is cancelled)
      if (node->semaphores != nullptr) return;  // not taken here (no node has any)
      if (node->handle.index() == 1) invoke_static(node);
      const bool conditioned = (node->state.load(std::memory_order_relaxed) & Node::kConditioned) != 0;
      node->join_counter.fetch_add(conditioned ? node->num_strong_dependents() : node->num_dependents(),
                                   std::memory_order_relaxed);
      std::atomic<std::size_t>& j = node->parent != nullptr ? node->parent->join_counter : node->topology->join_counter;
      cache_ = nullptr;
      unsigned max_p = ~0U;
      for (Node* s : node->successors) {
        if (s->join_counter.fetch_sub(1, std::memory_order_acq_rel) != 1) continue;
        j.fetch_add(1, std::memory_order_relaxed);
        if (s->priority <= max_p) {
          if (cache_ != nullptr) schedule(cache_);
          cache_ = s;
          max_p = s->priority;
        } else {
          schedule(s);
        }
      }
      if (node->parent == nullptr &&
          node->topology->join_counter.fetch_sub(1, std::memory_order_acq_rel) == 1)  // _tear_down_invoke
        node->topology->done = true;
      if (cache_ == nullptr) return;
      node = cache_;
    }
  }

  void invoke_static(Node* node) noexcept {
    for (const auto& o : observers_)
      o->on_entry(*node);
    try {
      auto& work = std::get_if<Static>(&node->handle)->work;
      switch (work.index()) {
        case 0:
          (*std::get_if<0>(&work))();
          break;
        default: {
          Runtime rt{node};
          (*std::get_if<1>(&work))(rt);
        }
      }
    } catch (...) {
      failed_ = true;  // Taskflow keeps the first exception in the topology
    }
    for (const auto& o : observers_)
      o->on_exit(*node);
  }

  std::unordered_set<std::shared_ptr<Observer>> observers_;  // none, as by default
  Node* cache_ = nullptr;                                    // tf::Worker::_cache
  std::vector<Node*> queue_;                                 // the worker's queue (a chain queues its source only)
  std::vector<Node*> sources_;                               // tf::Topology::_sources
  bool failed_ = false;
};

}  // namespace
}  // namespace rt::bench::p7::tfm

namespace rt::bench::p7 {

Block taskflow_model_block(const Settings& s, int nodes) {
  const PmQosHold qos(s);
  const auto n = static_cast<std::size_t>(nodes);
  auto graph = std::make_unique<tfm::Node[]>(n);
  std::atomic<ns_t> end{0};
  for (std::size_t i = 0; i < n; ++i) {
    tfm::Node& node = graph[i];
    node.name = "n" + std::to_string(i);
    if (i + 1 < n) {
      node.handle = tfm::Static{std::function<void()>([] { node_body(); })};
      node.successors.push_back(&graph[i + 1]);
      graph[i + 1].dependents.push_back(&node);
    } else {
      node.handle = tfm::Static{std::function<void()>([&end] {
        node_body();
        end.store(hal::now_ns(), std::memory_order_release);
      })};
    }
  }
  tfm::Topology tpg;
  tfm::Executor ex(n);
  std::vector<ns_t> lat;
  bool incomplete = false;
  hal::Thread t({.name = "bench-tfmodel", .cpu = s.cpu, .priority = s.priority}, [&] {
    const int total = kWarmupRuns + runs(s);
    lat.reserve(static_cast<std::size_t>(total));
    for (int i = 0; i < total; ++i) {
      const ns_t t0 = hal::now_ns();
      ex.run(tpg, graph.get(), n);
      if (!tpg.done) incomplete = true;
      if (i >= kWarmupRuns) lat.push_back(end.load(std::memory_order_acquire) - t0);
    }
  });
  t.join();
  if (incomplete) return failed("a run of the model did not reach its tear-down");
  return cost_of_runs(std::move(lat), nodes);
}

}  // namespace rt::bench::p7
