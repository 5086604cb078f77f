// P4 (SPEC): throughput of trivial tasks with 2 workers, next to a mutex pool and a raw
// moodycamel queue. What one block measures, the same for every contender:
//
// - Threads: one producer on side_cpu; two consumers (the engine's two workers), one on
//   cpu and one on side_cpu: a 2-CPU machine has no third CPU, so the side consumer
//   time-shares with the producer. All at settings.priority. Under SCHED_FIFO a thread
//   keeps its CPU until it blocks or yields, so each gives way when it cannot progress:
//   the producer when the queue is full, a consumer when it is empty.
// - A task: a callable of the engine's inline size (rt::InlineFn<kTaskFnCapacity>: a
//   64-byte buffer and an invoke pointer, 80 bytes) that adds 1 to a relaxed counter. The
//   baselines queue that element itself, as try_post does; try_submit copies it into a
//   task slot and its ring carries the slot's 4-byte index.
// - Capacity: 1024 places (the engine's default ring).
// - Submission: one task at a time, or in batches of 32 (Producer::kPostChunk; moodycamel's
//   try_enqueue_bulk). Consumers take one task at a time in every contender (the engine's
//   class rule is checked before each). The pool is measured one at a time only: pushing 32
//   under one lock made it slower here (1.9 M/s against 3.1 M/s: its consumers wait
//   longer for the lock), so the faster way is the baseline.
// - Throughput: tasks / (the producer's clock when it sees the last completion - its clock
//   before the first submission), after submitting for a quarter of --block.
// - Full: the engine's and raw moodycamel's producer retries for 20 us (the engine's idle
//   spin: the consumer on the other CPU is making room), then yields (sched_yield) to the
//   consumer on its own CPU; "refusals" counts the times it found the queue full. The
//   pool's producer waits on its "not full" condition variable, as a bounded pool's submit
//   does ("refusals": its waits). Yielding at once instead made every contender time-share
//   more, and raw moodycamel bimodal: 12-18 M/s when its second consumer ran, 36-49 M/s
//   when its first alone kept up.
// - Empty: the engine's workers spin idle_spin (its default, 20 us), then sleep on a
//   futex; raw moodycamel's consumers spin as long, then yield (it has no sleep); the
//   pool's wait on their condition variable.
//
// The SPEC's targets are read on batched submission: one at a time, each submission to the
// engine pays a full barrier (the seq_cst reservation that pairs with a worker's way to
// sleep, so a sleeping worker is never missed), which waits for the previous submission's
// stores to reach the consumer's core; a bare queue whose consumers never sleep needs no
// barrier and overlaps those transfers. The one-at-a-time figures are reported beside.
#include <sched.h>

#include <array>
#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <queue>
#include <string>
#include <utility>
#include <vector>

// GCC 12 at -O3 reports a 0-byte region in moodycamel's enqueue_bulk once inlined through
// a token (-Wstringop-overflow): a false positive of its inlined-pointer analysis; the
// engine's own rings (ring.hpp) make the same call through a pointer it does not follow.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wstringop-overflow"
#endif
#include <concurrentqueue/concurrentqueue.h>
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic pop
#endif

#include "hal/clock.hpp"
#include "hal/thread.hpp"
#include "rt/engine.hpp"
#include "rt/inline_fn.hpp"
#include "rtbench/measure.hpp"

namespace rt::bench {
namespace {

constexpr std::size_t kCapacity = 1024;  // EngineConfig's default ring_capacity
constexpr std::size_t kBatch = Producer::kPostChunk;
const ns_t kIdleSpin = EngineConfig{}.idle_spin;  // the engine's default
const ns_t kFullSpin = kIdleSpin;                 // a refused producer retries this long before it yields
constexpr ns_t kStuck = 10 * hal::kNsPerSec;      // tasks unfinished this long after the last submission: broken

// A contender submits for a quarter of --block (250 ms by default): long enough to
// average the queue's fill-and-drain cycles, short enough that the blocks of a
// repetition fall in the same fast or slow period of a VM.
ns_t block_time(const Settings& s) { return std::max<ns_t>(s.block / 4, hal::kNsPerMs); }

// What every task of a block shares: the count of completions.
struct alignas(hal::kCacheLine) Tally {
  std::atomic<std::uint64_t> done{0};
};

// The trivial task.
struct Increment {
  Tally* tally;
  void operator()() const noexcept { tally->done.fetch_add(1, std::memory_order_relaxed); }
};

// The baselines' element: the engine's task storage without its context argument.
struct Task {
  InlineFn<kTaskFnCapacity> fn;
  Task() = default;
  explicit Task(Tally* t) noexcept { fn.emplace(Increment{t}); }
  Task(const Task& o) noexcept { fn.copy_from(o.fn); }
  Task& operator=(const Task& o) noexcept {
    fn.copy_from(o.fn);
    return *this;
  }
  ~Task() = default;
};
static_assert(sizeof(Task) == sizeof(TaskFn), "the baselines carry the engine's task payload");

Block failed(std::string why) {
  Block b;
  b.error = std::move(why);
  return b;
}

// The producer's loop, the same for every contender: submits for block_time, yielding
// (to the consumer that shares its CPU) after each refusal, then waits, yielding, for the
// last completion. `put()` submits one task or one batch and returns how many it took;
// `*why` not empty: stop, the block failed.
template <class Put>
Block produce(const Settings& s, const Tally& tally, const std::string* why, Put&& put) {
  std::uint64_t sent = 0, refusals = 0;
  ns_t full_since = 0;  // the queue has refused since
  const ns_t t0 = hal::now_ns();
  for (const ns_t until = t0 + block_time(s); hal::now_ns() < until;) {
    for (std::uint64_t upto = sent + 64; sent < upto;) {  // a clock read costs more than a submission
      const std::size_t n = put();
      if (!why->empty()) return failed(*why);
      sent += n;
      if (n != 0) {
        full_since = 0;
        continue;
      }
      const ns_t now = hal::now_ns();
      if (full_since == 0) {
        full_since = now;
        ++refusals;  // once per time the queue was found full
      }
      if (now - full_since > kFullSpin) {
        sched_yield();
        full_since = 0;
      }
    }
  }
  ns_t end = hal::now_ns();
  for (const ns_t give_up = end + kStuck; tally.done.load(std::memory_order_acquire) < sent; end = hal::now_ns()) {
    if (end > give_up) return failed("tasks still unfinished 10 s after the last submission");
    sched_yield();
  }
  Block b;
  b.value = static_cast<double>(sent) * 1e9 / static_cast<double>(std::max<ns_t>(end - t0, 1));
  b.extra = {{"refusals", static_cast<double>(refusals)}, {"tasks", static_cast<double>(sent)}};
  return b;
}

hal::ThreadSpec spec(const char* name, int cpu, const Settings& s) {
  return {.name = name, .cpu = cpu, .priority = s.priority};
}

// Runs `body` (which returns the block) on the producer thread and waits for it.
template <class Body>
Block on_producer(const Settings& s, Body&& body) {
  Block b;
  hal::Thread producer(spec("bench-p4-prod", s.side_cpu, s), [&] { b = body(); });
  producer.join();
  return b;
}

// ---- rtengine: two workers serving every class, defaults otherwise ----

enum class Way : std::uint8_t { Submit, Post, PostBatch };

Block engine_block(const Settings& s, Way way) {
  EngineConfig c;
  c.workers = {WorkerConfig{.cpu = s.cpu, .priority = s.priority},
               WorkerConfig{.cpu = s.side_cpu, .priority = s.priority}};
  if (way != Way::Submit) c.post_capacity[static_cast<std::size_t>(Priority::Normal)] = kCapacity;
  c.max_producers = 1;
  c.monitor.cpu = s.side_cpu;
  c.pm_qos.enabled = s.pm_qos;
  Engine engine(c);
  engine.start();
  Producer p = engine.make_producer();
  Tally tally;
  std::string why;
  const std::array<Increment, kBatch> batch = [&] {
    std::array<Increment, kBatch> a{};
    a.fill(Increment{&tally});
    return a;
  }();
  auto one = [&](SubmitStatus st) -> std::size_t {
    if (st == SubmitStatus::Ok) return 1;
    if (st != SubmitStatus::QueueFull && st != SubmitStatus::NoFreeSlot)
      why = "a submission was refused: " + std::string(to_string(st));
    return 0;
  };
  Block b = on_producer(s, [&] {
    return produce(s, tally, &why, [&]() -> std::size_t {
      switch (way) {
        case Way::Submit:
          return one(p.try_submit(Increment{&tally}));
        case Way::Post:
          return one(p.try_post(Increment{&tally}));
        case Way::PostBatch:
          break;
      }
      return p.try_post_batch(batch.begin(), batch.end());
    });
  });
  (void)engine.stop(StopMode::Drain);
  return b;
}

// ---- baseline: mutex + condition_variable + priority_queue, bounded ----

Block pool_block(const Settings& s) {
  PmQosHold qos(s);
  struct Item {
    int prio;
    std::uint64_t seq;  // FIFO within a priority, as the engine's rings are
    Task task;
    bool operator<(const Item& o) const noexcept { return prio != o.prio ? prio < o.prio : seq > o.seq; }
  };
  std::mutex mu;
  std::condition_variable not_empty, not_full;
  std::vector<Item> storage;
  storage.reserve(kCapacity + 1);
  std::priority_queue<Item> q(std::less<Item>{}, std::move(storage));
  bool quit = false;
  auto consume = [&] {
    std::unique_lock lock(mu);
    for (;;) {
      not_empty.wait(lock, [&] { return quit || !q.empty(); });
      if (q.empty()) return;
      Task t = q.top().task;
      const bool was_full = q.size() == kCapacity;
      q.pop();
      lock.unlock();
      if (was_full) not_full.notify_one();
      t.fn();
      lock.lock();
    }
  };
  Tally tally;
  hal::Thread a(spec("bench-p4-pool", s.cpu, s), consume);
  hal::Thread b2(spec("bench-p4-pool", s.side_cpu, s), consume);
  const std::string why;
  Block b = on_producer(s, [&] {
    const Task task(&tally);
    std::uint64_t seq = 0, waits = 0;
    Block r = produce(s, tally, &why, [&] {
      {
        std::unique_lock lock(mu);
        if (q.size() == kCapacity) {
          ++waits;  // as a bounded pool's submit does: wait for a place
          not_full.wait(lock, [&] { return q.size() < kCapacity; });
        }
        q.push(Item{2, seq++, task});
      }
      not_empty.notify_one();
      return std::size_t{1};
    });
    if (!r.extra.empty()) r.extra[0].second = static_cast<double>(waits);
    {
      std::lock_guard lock(mu);
      quit = true;
    }
    not_empty.notify_all();
    return r;
  });
  a.join();
  b2.join();
  return b;
}

// ---- baseline: raw moodycamel, spin then yield ----

Block raw_block(const Settings& s, std::size_t per_enqueue) {
  PmQosHold qos(s);
  // One explicit producer; moodycamel's own (approximate) bound at the same capacity.
  moodycamel::ConcurrentQueue<Task> q(kCapacity, 1, 0);
  std::atomic<bool> quit{false};
  auto consume = [&] {
    moodycamel::ConsumerToken tok(q);
    Task t;
    ns_t idle_since = 0;
    while (!quit.load(std::memory_order_relaxed)) {
      if (q.try_dequeue(tok, t)) {
        t.fn();
        idle_since = 0;
        continue;
      }
      const ns_t now = hal::now_ns();
      if (idle_since == 0) {
        idle_since = now;
      } else if (now - idle_since > kIdleSpin) {
        sched_yield();
      }
    }
  };
  Tally tally;
  hal::Thread a(spec("bench-p4-raw", s.cpu, s), consume);
  hal::Thread b2(spec("bench-p4-raw", s.side_cpu, s), consume);
  const std::string why;
  Block b = on_producer(s, [&] {
    moodycamel::ProducerToken tok(q);
    const std::vector<Task> tasks(per_enqueue, Task(&tally));
    Block r = produce(s, tally, &why, [&]() -> std::size_t {
      if (per_enqueue == 1) return q.try_enqueue(tok, tasks[0]) ? 1 : 0;
      return q.try_enqueue_bulk(tok, tasks.data(), per_enqueue) ? per_enqueue : 0;
    });
    quit.store(true, std::memory_order_relaxed);  // by the producer: a non-RT caller could wait long for a CPU
    return r;
  });
  a.join();
  b2.join();
  return b;
}

Contender rate(std::string id, std::string label, std::function<Block(const Settings&)> block) {
  return {
      .id = std::move(id), .label = std::move(label), .kind = Kind::Rate, .block = std::move(block), .unavailable = {}};
}

Ratio at_least(std::string contender, std::string baseline, double limit) {
  return {.contender = std::move(contender),
          .baseline = std::move(baseline),
          .stat = Stat::Value,
          .limit = limit,
          .at_least = true,
          .source = limit > 0 ? "SPEC P4" : ""};
}

}  // namespace

Group p4_throughput(const Settings& s) {
  Group g;
  g.id = "P4";
  g.title = "Throughput of trivial tasks, 2 workers";
  g.contenders = {
      rate("engine_batch", "rtengine try_post_batch",
           [](const Settings& st) { return engine_block(st, Way::PostBatch); }),
      rate("raw_batch", "raw moodycamel, bulk", [](const Settings& st) { return raw_block(st, kBatch); }),
      rate("engine_post", "rtengine try_post", [](const Settings& st) { return engine_block(st, Way::Post); }),
      rate("engine_submit", "rtengine try_submit", [](const Settings& st) { return engine_block(st, Way::Submit); }),
      rate("pool", "mutex pool", pool_block),
      rate("raw", "raw moodycamel", [](const Settings& st) { return raw_block(st, 1); }),
  };
  g.ratios = {
      at_least("engine_batch", "pool", 5.0), at_least("engine_batch", "raw_batch", 0.8),
      at_least("engine_post", "pool", 0),    at_least("engine_post", "raw", 0),
      at_least("engine_submit", "pool", 0),  at_least("engine_submit", "raw", 0),
  };
  // Each contender's block, plus ~90 ms of set-up and tear-down (measured: 7 repetitions
  // of 6 contenders took 14-15 s with 250 ms blocks).
  g.rep_time = [n = g.contenders.size()](const Settings& st) {
    return static_cast<ns_t>(n) * (block_time(st) + 90 * hal::kNsPerMs);
  };
  g.notes = {
      "one producer on the side CPU; two consumers, on the measured CPU and on the side CPU (time-shared with the "
      "producer); each submits for " +
          std::to_string(block_time(s) / hal::kNsPerMs) + " ms, one task at a time or in batches of " +
          std::to_string(kBatch) +
          ", then waits for the last completion; a task is a relaxed counter increment in the engine's 80-byte "
          "inline callable; capacity 1024; full: the producer yields and retries (the pool's waits)",
      "targets on batches: one at a time, each engine submission pays a full barrier (the handshake that never "
      "misses a sleeping worker), which waits for the previous submission's stores to reach the consumer's core. "
      "The pool's baseline is its own faster way, one task per lock: pushing 32 under one lock measured slower "
      "here (1.9 against 3.1 M/s). try_submit (tasks with ids, cancel, status) is shown beside, without a target",
  };
  return g;
}

}  // namespace rt::bench
