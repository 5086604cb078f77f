// P2/P4: submit -> start latency of the engine next to two baselines measured in the same
// run: a mutex + condition_variable + priority_queue pool (what most task pools are) and
// a raw moodycamel handoff (the floor for our rings). One producer, one consumer, one
// task in flight at a time, so each sample is a latency, not a queueing delay.
//
//   build/release/bench/rt_bench --benchmark_filter=Latency
// Pin with RT_BENCH_CPU_PRODUCER / RT_BENCH_CPU_WORKER (default 0 and 1) and give
// SCHED_FIFO with RT_BENCH_PRIO (default 80; 0 keeps SCHED_OTHER).
#include <benchmark/benchmark.h>
#include <concurrentqueue/concurrentqueue.h>

#include <atomic>
#include <condition_variable>
#include <cstdlib>
#include <functional>
#include <mutex>
#include <queue>
#include <thread>

#include "hal/thread.hpp"
#include "ring.hpp"
#include "rt/engine.hpp"
#include "support/latency.hpp"

namespace {

using bench_support::prio;
using bench_support::producer_cpu;
using bench_support::worker_cpu;

void pin_producer() {
  (void)hal::apply_to_current_thread({.name = "bench-producer", .cpu = producer_cpu(), .priority = prio()});
}

// Leaves the consumer time to go idle (and, for blocking contenders, to sleep) between
// samples, as a control loop that submits once per period would.
void gap() {
  const hal::ns_t until = hal::now_ns() + 20 * hal::kNsPerUs;
  while (hal::now_ns() < until) {
  }
}

// ---- rtengine ----

void engine_latency(benchmark::State& state, hal::ns_t idle_spin) {
  pin_producer();
  rt::EngineConfig c;
  c.workers = {rt::WorkerConfig{.cpu = worker_cpu(), .priority = prio(), .classes = rt::kAllClasses}};
  c.idle_spin = idle_spin;
  c.lock_memory = false;
  rt::Engine e(c);
  e.start();
  rt::Producer p = e.make_producer();
  bench_support::Samples lat(static_cast<std::size_t>(state.max_iterations));
  std::atomic<hal::ns_t> started{0};
  for (auto _ : state) {
    started.store(0, std::memory_order_relaxed);
    const hal::ns_t t0 = hal::now_ns();
    (void)p.try_submit([&started] { started.store(hal::now_ns(), std::memory_order_release); },
                       {.priority = rt::Priority::Critical});
    hal::ns_t t1;
    while ((t1 = started.load(std::memory_order_acquire)) == 0) {
    }
    lat.add(t1 - t0);
    gap();
  }
  (void)e.stop(rt::StopMode::Drain);
  lat.report(state);
}

void BM_LatencyEngineHotWorker(benchmark::State& state) { engine_latency(state, hal::kNsPerSec); }
void BM_LatencyEngineIdleWorker(benchmark::State& state) { engine_latency(state, 0); }

// ---- baseline: mutex + condition_variable + priority_queue ----

void BM_LatencyCondvarPoolBaseline(benchmark::State& state) {
  pin_producer();
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
  bench_support::Samples lat(static_cast<std::size_t>(state.max_iterations));
  for (auto _ : state) {
    started.store(0, std::memory_order_relaxed);
    const hal::ns_t t0 = hal::now_ns();
    {
      std::lock_guard lock(mu);
      q.push({4, t0});
    }
    cv.notify_one();
    hal::ns_t t1;
    while ((t1 = started.load(std::memory_order_acquire)) == 0) {
    }
    lat.add(t1 - t0);
    gap();
  }
  {
    std::lock_guard lock(mu);
    quit = true;
  }
  cv.notify_one();
  worker.join();
  lat.report(state);
}

// ---- baseline: raw moodycamel handoff, spinning consumer ----

void BM_LatencyRawMoodycamelBaseline(benchmark::State& state) {
  pin_producer();
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
  bench_support::Samples lat(static_cast<std::size_t>(state.max_iterations));
  for (auto _ : state) {
    started.store(0, std::memory_order_relaxed);
    const hal::ns_t t0 = hal::now_ns();
    (void)q.try_enqueue(ptok, t0);
    hal::ns_t t1;
    while ((t1 = started.load(std::memory_order_acquire)) == 0) {
    }
    lat.add(t1 - t0);
    gap();
  }
  quit = true;
  worker.join();
  lat.report(state);
}

// Interleaved and repeated (SPEC's method): a noisy moment hits every contender alike.
constexpr int kSamples = 20000;
BENCHMARK(BM_LatencyEngineHotWorker)->Iterations(kSamples)->Repetitions(5)->UseRealTime();
BENCHMARK(BM_LatencyRawMoodycamelBaseline)->Iterations(kSamples)->Repetitions(5)->UseRealTime();
BENCHMARK(BM_LatencyEngineIdleWorker)->Iterations(kSamples)->Repetitions(5)->UseRealTime();
BENCHMARK(BM_LatencyCondvarPoolBaseline)->Iterations(kSamples)->Repetitions(5)->UseRealTime();

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
