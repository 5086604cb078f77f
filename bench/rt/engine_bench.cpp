// P2: submit -> start latency of the engine next to two baselines: a mutex +
// condition_variable + priority_queue pool (what most task pools are) and a raw moodycamel
// handoff (the floor under our rings). PAIRED (support/paired.hpp, issue 14): each
// comparison measures its contender and its baseline in adjacent short blocks, many times,
// and reports the median over pairs of the per-pair ratios of p50, p99 and p99.9, then the
// targets met or not. One producer, one consumer, one task in flight at a time, so each
// sample is a latency, not a queueing delay. Then ring throughput (one thread, push then
// pop) next to raw moodycamel.
//
//   build/release/bench/rt_bench                              both, then the tables
//   build/release/bench/rt_bench --benchmark_filter=Latency   the paired latency schedule
//   build/release/bench/rt_bench --benchmark_filter=-Latency  ring throughput
// Environment: RT_BENCH_PAIRS (default 30; RT_BENCH_REPS is its older name),
// RT_BENCH_BLOCK (samples per block, default 500), RT_BENCH_CPU_PRODUCER and
// RT_BENCH_CPU_WORKER (default 0 and 1), RT_BENCH_PRIO (SCHED_FIFO priority of producer
// and consumer, default 80; 0 keeps SCHED_OTHER).
#include <benchmark/benchmark.h>
#include <concurrentqueue/concurrentqueue.h>

#include <atomic>
#include <condition_variable>
#include <cstdio>
#include <mutex>
#include <queue>
#include <string>

#include "hal/thread.hpp"
#include "ring.hpp"
#include "rt/engine.hpp"
#include "support/conditions.hpp"
#include "support/env.hpp"
#include "support/paired.hpp"

namespace {

using bench_support::BlockResult;
using bench_support::Contender;
using bench_support::PmQosHold;
using bench_support::prio;
using bench_support::producer_cpu;
using bench_support::Stat;
using bench_support::worker_cpu;

int block_samples() { return std::max(10, bench_support::env_int("RT_BENCH_BLOCK", 500)); }
// Taken at the start of every block and dropped: the consumer thread has just been
// created (or the engine just started) and its first hand-offs meet cold caches.
constexpr int kWarmup = 20;
// A consumer that has not started a handed-off item after this long is broken, not slow.
constexpr hal::ns_t kStuck = hal::kNsPerSec;
// The engine's default PM QoS target, which the baselines hold too (support/conditions.hpp).
const std::int32_t kPmQosUs = rt::PmQosConfig{}.latency_us;

bool baseline_pm_qos() { return bench_support::engine_would_hold_pm_qos(prio()); }

// Leaves the consumer time to go idle (and, for blocking contenders, to sleep) between
// samples, as a control loop that submits once per period would.
void gap() {
  const hal::ns_t until = hal::now_ns() + 20 * hal::kNsPerUs;
  while (hal::now_ns() < until) {
  }
}

// The producer's side of a block, the same for every contender: stamp, hand off, spin
// until the consumer stamps its start, leave a gap. `hand_off(t0)` returns false when the
// contender refused the item. Set-up and tear-down are the caller's, outside the samples.
template <class HandOff>
BlockResult take_samples(std::atomic<hal::ns_t>& started, HandOff&& hand_off) {
  const int n = block_samples();
  bench_support::Samples lat(static_cast<std::size_t>(n));
  for (int i = 0; i < kWarmup + n; ++i) {
    started.store(0, std::memory_order_relaxed);
    const hal::ns_t t0 = hal::now_ns();
    if (!hand_off(t0)) return {{}, "the hand-off was refused"};
    hal::ns_t t1;
    std::uint32_t spins = 0;
    while ((t1 = started.load(std::memory_order_acquire)) == 0) {
      if (++spins % 4096 == 0 && hal::now_ns() - t0 > kStuck) return {{}, "no start within 1 s of a hand-off"};
    }
    if (i >= kWarmup) lat.add(t1 - t0);
    gap();
  }
  return {lat.percentiles(), {}};
}

// ---- rtengine ----

// One worker pinned beside the producer. Built once; started and stopped around each
// block (Engine::start/stop are restartable), so its worker -- which the hot
// configuration keeps spinning for a second after each task -- is gone before a
// baseline's consumer runs on that CPU.
class EngineContender {
 public:
  EngineContender(std::string name, hal::ns_t idle_spin) : name_(std::move(name)), engine_(config(idle_spin)) {}

  BlockResult block() {
    engine_.start();
    if (!producer_.valid()) producer_ = engine_.make_producer();
    std::atomic<hal::ns_t>* started = &started_;
    BlockResult r = take_samples(started_, [this, started](hal::ns_t) {
      return producer_.try_submit([started] { started->store(hal::now_ns(), std::memory_order_release); },
                                  {.priority = rt::Priority::Critical}) == rt::SubmitStatus::Ok;
    });
    bench_support::note_pm_qos(name_, engine_.stats().pm_qos_held);
    (void)engine_.stop(rt::StopMode::Drain);
    return r;
  }
  [[nodiscard]] const std::string& name() const noexcept { return name_; }

 private:
  // Defaults but for the worker and its idle spin: memory locked and PM QoS held, as the
  // baselines get them.
  static rt::EngineConfig config(hal::ns_t idle_spin) {
    rt::EngineConfig c;
    c.workers = {rt::WorkerConfig{.cpu = worker_cpu(), .priority = prio(), .classes = rt::kAllClasses}};
    c.idle_spin = idle_spin;
    return c;
  }
  std::string name_;
  rt::Engine engine_;
  rt::Producer producer_;
  std::atomic<hal::ns_t> started_{0};
};

// ---- baseline: mutex + condition_variable + priority_queue, thread per block ----

BlockResult condvar_pool_block(const std::string& name) {
  PmQosHold qos(name, baseline_pm_qos(), kPmQosUs);
  struct Item {
    int prio;
    hal::ns_t t0;
    bool operator<(const Item& o) const { return prio < o.prio; }
  };
  std::mutex mu;
  std::condition_variable cv;
  std::priority_queue<Item> q;
  bool quit = false;
  std::atomic<hal::ns_t> started{0};
  hal::Thread worker({.name = "bench-cv", .cpu = worker_cpu(), .priority = prio()}, [&] {
    std::unique_lock lock(mu);
    for (;;) {
      cv.wait(lock, [&] { return quit || !q.empty(); });
      if (quit) return;
      q.pop();
      started.store(hal::now_ns(), std::memory_order_release);
    }
  });
  BlockResult r = take_samples(started, [&](hal::ns_t t0) {
    {
      std::lock_guard lock(mu);
      q.push({4, t0});
    }
    cv.notify_one();
    return true;
  });
  {
    std::lock_guard lock(mu);
    quit = true;
  }
  cv.notify_one();
  worker.join();
  return r;
}

// ---- baseline: raw moodycamel handoff, spinning consumer, thread per block ----

BlockResult raw_moodycamel_block(const std::string& name) {
  PmQosHold qos(name, baseline_pm_qos(), kPmQosUs);
  moodycamel::ConcurrentQueue<hal::ns_t> q(1024, 1, 0);
  moodycamel::ProducerToken ptok(q);
  std::atomic<bool> quit{false};
  std::atomic<hal::ns_t> started{0};
  hal::Thread worker({.name = "bench-mc", .cpu = worker_cpu(), .priority = prio()}, [&] {
    moodycamel::ConsumerToken ctok(q);
    hal::ns_t v = 0;
    while (!quit.load(std::memory_order_relaxed)) {
      if (q.try_dequeue(ctok, v)) started.store(hal::now_ns(), std::memory_order_release);
    }
  });
  BlockResult r = take_samples(started, [&](hal::ns_t t0) { return q.try_enqueue(ptok, t0); });
  quit = true;
  worker.join();
  return r;
}

// ---- the paired schedule ----

// Kept for main, which prints its tables after every benchmark has run.
bench_support::PairedRun& latency_run() {
  static bench_support::PairedRun run("", "");
  return run;
}

void BM_LatencyPaired(benchmark::State& state) {
  (void)bench_support::lock_process_memory();
  (void)hal::apply_to_current_thread({.name = "bench-producer", .cpu = producer_cpu(), .priority = prio()});
  EngineContender hot_engine("engine hot (idle_spin 1 s)", hal::kNsPerSec);
  EngineContender idle_engine("engine idle (idle_spin 0)", 0);
  const Contender hot{hot_engine.name(), [&] { return hot_engine.block(); }, {}};
  const Contender idle{idle_engine.name(), [&] { return idle_engine.block(); }, {}};
  const Contender raw{"raw moodycamel", [] { return raw_moodycamel_block("raw moodycamel"); }, {}};
  const Contender pool{"condvar pool", [] { return condvar_pool_block("condvar pool"); }, {}};

  const int samples = block_samples();
  bench_support::PairedRun& run = latency_run();
  run = bench_support::PairedRun("Submit -> start latency: producer CPU " + std::to_string(producer_cpu()) +
                                     ", consumer CPU " + std::to_string(worker_cpu()) + ", " +
                                     bench_support::policy(prio()),
                                 std::to_string(samples) + " samples (after " + std::to_string(kWarmup) + " dropped)");
  run.compare(hot, raw, "hot/raw", {{"SPEC P2", Stat::P50, 2.0}});
  run.compare(hot, pool, "hot/pool", {{"SPEC P2", Stat::P50, 0.1}, {"SPEC P2", Stat::P99, 0.2}});
  run.compare(idle, pool, "idle/pool", {{"SPEC P2", Stat::P50, 1.0}});
  for (auto _ : state)
    run.run(bench_support::pairs(30));
  run.set_counters(state);
}
BENCHMARK(BM_LatencyPaired)->Iterations(1)->UseRealTime()->Unit(benchmark::kSecond);

// ---- ring throughput: one thread, push then pop ----

void BM_RingSubmitDequeue(benchmark::State& state) {
  rt::Arena arena(std::size_t{16} << 20, false);
  rt::detail::Ring ring(arena, 1024, 1, 1);
  std::uint32_t v = 0;
  for (auto _ : state) {
    benchmark::DoNotOptimize(ring.try_push(0, 7));
    benchmark::DoNotOptimize(ring.try_pop(0, v));
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_RingSubmitDequeue);

void BM_RawMoodycamelEnqueueDequeueBaseline(benchmark::State& state) {
  moodycamel::ConcurrentQueue<std::uint32_t> q(1024, 1, 0);
  moodycamel::ProducerToken ptok(q);
  moodycamel::ConsumerToken ctok(q);
  std::uint32_t v = 0;
  for (auto _ : state) {
    benchmark::DoNotOptimize(q.try_enqueue(ptok, 7U));
    benchmark::DoNotOptimize(q.try_dequeue(ctok, v));
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_RawMoodycamelEnqueueDequeueBaseline);

}  // namespace

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  const bench_support::PairedRun& run = latency_run();
  if (run.ran()) {
    bench_support::print_conditions(stdout);
    run.print(stdout);
    bench_support::PairedRun::print_targets_header(stdout);
    run.print_targets(stdout);
  }
  benchmark::Shutdown();
  return 0;
}
