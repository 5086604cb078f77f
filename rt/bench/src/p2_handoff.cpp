// P2: submit -> start latency of one task at a time (each sample a latency, not a queueing
// delay): the engine with a hot (spinning) worker and with an idle (blocked) one, next to
// a mutex + condition_variable + priority_queue pool (what most task pools are) and a raw
// moodycamel handoff with a spinning consumer (the floor under the engine's rings). The
// producer runs on the side CPU, the consumer on the measured CPU, both at the priority.
#include <concurrentqueue/concurrentqueue.h>

#include <atomic>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <optional>
#include <queue>
#include <string>
#include <vector>

#include "hal/clock.hpp"
#include "hal/thread.hpp"
#include "rt/engine.hpp"
#include "rtbench/measure.hpp"

namespace rt::bench {

namespace {

// Dropped at the start of every block: the consumer has just been created (or the
// engine just started) and its first handoffs meet cold caches.
constexpr int kWarmup = 20;
// A consumer that has not started a handed-off item after this long is broken, not slow.
constexpr ns_t kStuck = hal::kNsPerSec;

// Leaves the consumer time to go idle (and, for blocking contenders, to sleep) between
// samples, as a control loop that submits once per period would.
void gap() {
  const ns_t until = hal::now_ns() + 20 * hal::kNsPerUs;
  while (hal::now_ns() < until) {
  }
}

// The producer's side, the same for every contender, on its own thread on the side CPU:
// stamp, hand off, spin until the consumer stamps its start, leave a gap. With several
// consumers (a Joint) the samples go to each in turn, in reverse order every other round,
// so each gets `samples` and a drift of the machine favours none. `hand_offs[k](t0)`
// returns an empty string, or why contender k refused the item. One Block per hand-off.
std::vector<Block> take_turns(const Settings& s, std::atomic<ns_t>& started,
                              const std::vector<std::function<std::string(ns_t)>>& hand_offs) {
  const std::size_t n = hand_offs.size();
  std::vector<std::vector<ns_t>> lat(n), hand(n);  // submit -> start; the hand-off call alone
  for (auto& l : lat)
    l.reserve(static_cast<std::size_t>(s.samples));
  for (auto& l : hand)
    l.reserve(static_cast<std::size_t>(s.samples));
  std::string error;
  hal::Thread producer({.name = "bench-producer", .cpu = s.side_cpu, .priority = s.priority}, [&] {
    for (int i = 0; i < kWarmup + s.samples; ++i) {
      for (std::size_t j = 0; j < n; ++j) {
        const std::size_t k = i % 2 == 0 ? j : n - 1 - j;
        started.store(0, std::memory_order_relaxed);
        const ns_t t0 = hal::now_ns();
        if (std::string why = hand_offs[k](t0); !why.empty()) {
          error = "a handoff was refused: " + why;
          return;
        }
        const ns_t handed = hal::now_ns();
        ns_t t1;
        std::uint32_t spins = 0;
        while ((t1 = started.load(std::memory_order_acquire)) == 0) {
          if (++spins % 4096 == 0 && hal::now_ns() - t0 > kStuck) {
            error = "no start within 1 s of a handoff";
            return;
          }
        }
        if (i >= kWarmup) {
          lat[k].push_back(t1 - t0);
          hand[k].push_back(handed - t0);
        }
        gap();
      }
    }
  });
  producer.join();
  std::vector<Block> out(n);
  for (std::size_t k = 0; k < n; ++k) {
    if (error.empty()) {
      out[k].latency = snapshot_of(lat[k]);
      // The producer's own call (enqueue and any wake-up): the part of the latency spent
      // before the consumer can see the item.
      const HistogramSnapshot h = snapshot_of(hand[k]);
      out[k].extra = {{"hand-off call p50 ns", static_cast<double>(h.percentile(50))},
                      {"hand-off call p99 ns", static_cast<double>(h.percentile(99))}};
    } else {
      out[k].error = error;
    }
  }
  return out;
}

// A fresh engine per block: one worker on the measured CPU; `idle_spin` keeps it hot
// between tasks (a second) or lets it block at once (0). `post`: the task goes through
// Producer::try_post (no slot, no id: what work that needs no status or cancel uses).
class EngineConsumer {
 public:
  EngineConsumer(const Settings& s, ns_t idle_spin, bool post, std::atomic<ns_t>& started)
      : engine_(config(s, idle_spin, post)), post_(post), started_(&started) {
    engine_.start();
    producer_.emplace(engine_.make_producer());
  }
  EngineConsumer(const EngineConsumer&) = delete;
  EngineConsumer& operator=(const EngineConsumer&) = delete;
  ~EngineConsumer() { (void)engine_.stop(StopMode::Drain); }

  std::string hand_off(ns_t /*t0*/) {
    std::atomic<ns_t>* st = started_;
    const SubmitStatus r =
        post_ ? producer_->try_post([st] { st->store(hal::now_ns(), std::memory_order_release); }, Priority::Critical)
              : producer_->try_submit([st] { st->store(hal::now_ns(), std::memory_order_release); },
                                      {.priority = Priority::Critical});
    return r == SubmitStatus::Ok ? std::string() : std::string(to_string(r));
  }

 private:
  static EngineConfig config(const Settings& s, ns_t idle_spin, bool post) {
    EngineConfig c;
    c.workers = {WorkerConfig{.cpu = s.cpu, .priority = s.priority, .classes = kAllClasses}};
    c.idle_spin = idle_spin;
    c.pm_qos.enabled = s.pm_qos;
    if (post) c.post_capacity[static_cast<std::size_t>(Priority::Critical)] = 1024;
    // Finished tasks stay queryable (retain_completed): the engine's default keeps a
    // block's worth of them in their slots.
    return c;
  }
  Engine engine_;
  std::optional<Producer> producer_;
  bool post_;
  std::atomic<ns_t>* started_;
};

// A mutex + condition_variable + priority_queue pool with one worker thread on the
// measured CPU.
class CondvarPool {
 public:
  CondvarPool(const Settings& s, std::atomic<ns_t>& started)
      : qos_(s), worker_({.name = "bench-cv", .cpu = s.cpu, .priority = s.priority}, [this, &started] {
          std::unique_lock lock(mu_);
          for (;;) {
            cv_.wait(lock, [&] { return quit_ || !q_.empty(); });
            if (quit_) return;
            q_.pop();
            started.store(hal::now_ns(), std::memory_order_release);
          }
        }) {}
  CondvarPool(const CondvarPool&) = delete;
  CondvarPool& operator=(const CondvarPool&) = delete;
  ~CondvarPool() {
    {
      std::lock_guard lock(mu_);
      quit_ = true;
    }
    cv_.notify_one();
    worker_.join();
  }

  std::string hand_off(ns_t t0) {
    {
      std::lock_guard lock(mu_);
      q_.push({4, t0});
    }
    cv_.notify_one();
    return {};
  }

 private:
  struct Item {
    int prio;
    ns_t t0;
    bool operator<(const Item& o) const { return prio < o.prio; }
  };
  PmQosHold qos_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::priority_queue<Item> q_;
  bool quit_ = false;
  hal::Thread worker_;  // last: started once the rest is built, joined before it goes
};

Block engine_block(const Settings& s, ns_t idle_spin, bool post = false) {
  std::atomic<ns_t> started{0};
  EngineConsumer e(s, idle_spin, post, started);
  return take_turns(s, started, {[&e](ns_t t0) { return e.hand_off(t0); }}).front();
}

Block condvar_pool_block(const Settings& s) {
  std::atomic<ns_t> started{0};
  CondvarPool pool(s, started);
  return take_turns(s, started, {[&pool](ns_t t0) { return pool.hand_off(t0); }}).front();
}

// The engine's blocked worker and the pool's, both on the measured CPU and both asleep
// between samples, take the samples in turns: the futex wake-ups the idle target compares
// are measured within microseconds of each other.
std::vector<Block> idle_engine_and_pool(const Settings& s) {
  std::atomic<ns_t> started{0};
  EngineConsumer e(s, 0, false, started);
  CondvarPool pool(s, started);
  return take_turns(s, started,
                    {[&e](ns_t t0) { return e.hand_off(t0); }, [&pool](ns_t t0) { return pool.hand_off(t0); }});
}

Block raw_moodycamel_block(const Settings& s) {
  PmQosHold qos(s);
  moodycamel::ConcurrentQueue<ns_t> q(1024, 1, 0);
  moodycamel::ProducerToken ptok(q);
  std::atomic<bool> quit{false};
  std::atomic<ns_t> started{0};
  hal::Thread worker({.name = "bench-mc", .cpu = s.cpu, .priority = s.priority}, [&] {
    moodycamel::ConsumerToken ctok(q);
    ns_t v = 0;
    while (!quit.load(std::memory_order_relaxed)) {
      if (q.try_dequeue(ctok, v)) started.store(hal::now_ns(), std::memory_order_release);
    }
  });
  Block b = take_turns(s, started,
                       {[&](ns_t t0) { return q.try_enqueue(ptok, t0) ? std::string() : std::string("queue full"); }})
                .front();
  quit = true;
  worker.join();
  return b;
}

}  // namespace

Group p2_handoff(const Settings& s) {
  (void)s;
  Group g;
  g.id = "P2";
  g.title = "Submit -> start latency, one task at a time";
  // In this order each compared pair is measured in adjacent blocks (a repetition runs
  // the list forward or backward).
  g.contenders = {
      {"engine_idle",
       "engine idle (idle_spin 0)",
       Kind::Latency,
       [](const Settings& st) { return engine_block(st, 0); },
       {}},
      {"condvar_pool", "condvar pool", Kind::Latency, condvar_pool_block, {}},
      {"engine_hot",
       "engine hot (idle_spin 1s)",
       Kind::Latency,
       [](const Settings& st) { return engine_block(st, hal::kNsPerSec); },
       {}},
      {"raw_moodycamel", "raw moodycamel", Kind::Latency, raw_moodycamel_block, {}},
      {"engine_hot_post",
       "engine hot, try_post",
       Kind::Latency,
       [](const Settings& st) { return engine_block(st, hal::kNsPerSec, true); },
       {}},
  };
  g.joints = {{.ids = {"engine_idle", "condvar_pool"}, .block = idle_engine_and_pool}};
  g.ratios = {
      {"engine_hot", "condvar_pool", Stat::P50, 0.1, false, "SPEC P2"},
      {"engine_hot", "condvar_pool", Stat::P99, 0.2, false, "SPEC P2"},
      {"engine_hot", "raw_moodycamel", Stat::P50, 2.0, false, "SPEC P2"},
      {"engine_idle", "condvar_pool", Stat::P50, 1.0, false, "SPEC P2"},
      {"engine_hot_post", "raw_moodycamel", Stat::P50, 0, false, "no-slot path"},
      {"engine_hot_post", "condvar_pool", Stat::P50, 0, false, "no-slot path"},
  };
  // Blocks are short (samples x ~25 us): many repetitions make the paired ratios steady.
  g.min_reps = 20;
  g.rep_time = [](const Settings& st) {
    return 5 * (ns_t{st.samples + kWarmup} * 40 * hal::kNsPerUs + 30 * hal::kNsPerMs);
  };
  g.notes = {
      "condvar pool: mutex + condition_variable + priority_queue, one worker thread; raw moodycamel: "
      "ConcurrentQueue with a spinning consumer",
      "engine idle and condvar pool: both consumers in one block, blocked between samples, taking the samples in "
      "turns (the idle target is then measured within microseconds, not blocks, of its baseline)",
      "hand-off call: the producer's call alone (and one clock read), from its first stamp to its return; the rest "
      "of the latency is the consumer's side",
      "the engine's worker must claim the slot it is handed (a CAS on a line the producer wrote) where the "
      "raw handoff moves one line: see the closing note of issue 14 for the hot/raw floor"};
  return g;
}

}  // namespace rt::bench
