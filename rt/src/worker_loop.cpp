// The worker thread's loop: one-shot tasks from the rings, highest class first; its own
// periodic releases on their grid; between both a short spin, then sleep on a futex.
#include <algorithm>

#include "engine_impl.hpp"
#include "hal/alloc_watch.hpp"
#include "hal/futex.hpp"
#include "hal/memory.hpp"
#include "hal/thread.hpp"

namespace rt {

using detail::PeriodicTask;
using detail::Worker;

namespace {

// After a hybrid task's blocking wait for its spin start returned: how late. Only a wait
// that ran to its time out counts (the futex word unchanged, the time passed): a wake-up
// for work or a command says nothing of the timer. A wake-up after the release means the
// margin did not cover it. RT: wait-free; no allocation, no syscall (a vDSO clock read).
void note_wake(const Worker& w, PeriodicTask& p, std::uint32_t s, ns_t asked) noexcept HAL_NONBLOCKING {
  if (w.seq.load(std::memory_order_relaxed) != s) return;
  const ns_t now = hal::now_ns();
  if (now < asked) return;  // a signal, or a spurious return
  p.wake_late = now - asked;
  if (now > p.next) p.late_wakes.add();
}

// A release of a periodic graph another worker releases and this worker runs nodes of
// (Worker::feeders): when it is due, and the window around it in which this worker is
// awake for the run's start item -- from `lead` before it (its own timer) until
// `wait_until` after it, or until the start came, or the release came and went.
//
// The lead keeps this worker's wake-up ahead of the run's start item: without one, the
// start waits for a futex wake-up (P7's default frame, run start -> last node p99: 14 us
// without a lead, 3.3 us with one, as with a worker kept hot). Its own timer is late too,
// by a wake-up lateness: the lead is the p99 of how late this worker's pre-wakes for the
// loop returned plus its idle spin (Feeder::lag; at most feed_lead_cap, and that cap until 64
// pre-wakes are seen). A fixed lead of idle_spin (20 us) held on an
// idle VM and failed under stress-ng, whose wake-ups run 50-100 us late (P7 frame 1.32x
// its budget against 0.95x kept hot).
// The wait: the start item comes when the releasing worker's wake-up does, within a
// timer's jitter of this one's (tens of us on a VM, a few on RT hardware): feed_wait
// bounds the spin when that worker is held up.
struct Feed {
  Worker::Feeder* f = nullptr;  // none
  ns_t at = kNever;
  ns_t lead = 0;
  ns_t wait_until = 0;
};

// The feed due first, by when this worker wakes for it, whose window has not ended; none
// when this worker's idle spin is 0 (no spin at all), or its workers may share a CPU (Feeder::apart),
// or the period leaves no sleep between two windows. A stopped or paused feeder publishes
// 0; one whose release is more than a period overdue is held up (an overrun, a stall),
// and its release will wake this worker if it sleeps: both are passed over. Its worker
// publishes the next release after the run's start is queued; until then the grid says,
// and a release whose start this worker met (Feeder::fed) is not waited for again.
// RT: wait-free; five loads per feeder (its tracker's margin one of them).
Feed next_feed(Worker& w, ns_t now, ns_t spin) noexcept HAL_NONBLOCKING {
  Feed best;
  if (spin == 0) return best;
  const std::size_t n = w.feeder_count.load(std::memory_order_acquire);
  for (std::size_t i = 0; i < n; ++i) {
    Worker::Feeder& f = w.feeders[i];
    if (!f.apart.load(std::memory_order_acquire)) continue;
    const PeriodicTask& p = *f.loop;
    const ns_t period = p.spec.period;
    const ns_t wait = detail::feed_wait(period, spin);
    const ns_t room = detail::feed_room(period, spin);
    if (room <= 0) continue;
    ns_t at = p.next_release.load(std::memory_order_relaxed);
    if (at == 0 || at + period <= now) continue;
    if (at + wait <= now || at <= f.fed) at += period;  // released, late, or met: the next one
    const ns_t lead = detail::feed_lead(*f.lag, room, spin);
    if (best.f == nullptr || at - lead < best.at - best.lead) best = {&f, at, lead, at + wait};
  }
  return best;
}

}  // namespace

// A ring's depth is a few loads of lines that change only when the ring does; a pop that
// finds a ring empty walks the sub-queue of every producer token (eleven in a default
// engine). So a ring is looked at by depth first -- except the one this worker took from
// last, whose producers' counter changes with every submission: reading it would take
// the line from under them (ring.hpp). Exact for the class rule: an item is counted
// (reserved) before it can be dequeued.
//
// Counted but not visible yet: its producer is between the reservation and the enqueue
// (submit.cpp writes the slot in between, 100-300 ns). Going on to a lower class would
// make the item wait for a whole lower task (P5: a CRITICAL task behind a LOW one), so the
// worker waits for it, boundedly: a producer preempted there must not hold the worker.
bool Engine::Impl::pop_from(Worker& w, std::size_t k, bool post, std::uint32_t& idx) noexcept HAL_NONBLOCKING {
  if (post && w.held_i < w.held_n) {  // posts taken earlier, all of one class
    if (w.held_k != k) return false;
    ++w.held_i;
    idx = kPostItem;
    w.post_turn &= ~(1U << k);
    return true;
  }
  const auto me = static_cast<std::size_t>(w.index);
  const auto ring = static_cast<std::uint32_t>(2 * k + (post ? 1 : 0));
  const bool hot = w.hot == ring;
  auto depth = [&] { return post ? posts[k]->depth() : rings[k]->depth(); };
  if (!hot && depth() <= 0) {
    if (post) w.post_streak = false;
    return false;
  }
  for (int spins = 0;; ++spins) {
    if (post) {
      // A worker streaming posts takes its share of a deep ring at once (one dequeue's
      // shared-line traffic for up to kHold posts: P4's trivial posts ran ~40% faster),
      // and one at a time from a shallow ring, so the other workers get theirs.
      std::size_t want = 1;
      if (w.post_streak) {
        const auto share = depth() / static_cast<std::int64_t>(serving[k].size());
        want = static_cast<std::size_t>(std::clamp<std::int64_t>(share, 1, Worker::kHold));
      }
      w.held_n = static_cast<std::uint32_t>(posts[k]->try_pop_bulk(me, w.held.data(), want));
      w.post_streak = w.held_n > 0;
      if (w.held_n > 0) {
        w.held_i = 1;
        w.held_k = k;
        w.hot = ring;
        w.post_turn &= ~(1U << k);
        idx = kPostItem;
        return true;
      }
    } else if (rings[k]->try_pop(me, idx)) {
      w.hot = ring;
      w.post_turn |= 1U << k;
      return true;
    }
    if (hot || spins == kAwaitVisible || depth() <= 0) return false;
    detail::cpu_relax();
  }
}

bool Engine::Impl::pop_any(Worker& w, std::uint32_t& idx, std::size_t below) noexcept HAL_NONBLOCKING {
  for (std::size_t k = 0; k < below; ++k) {
    if ((w.cfg.classes & (1U << k)) == 0) continue;
    if (posts[k] == nullptr) {
      if (pop_from(w, k, false, idx)) return true;
      continue;
    }
    // Tasks and posts of one class take turns, so neither starves the other.
    const bool post_first = (w.post_turn >> k & 1U) != 0;
    if (pop_from(w, k, post_first, idx) || pop_from(w, k, !post_first, idx)) return true;
  }
  return false;
}

bool Engine::Impl::has_work(const Worker& w) const noexcept HAL_NONBLOCKING {
  for (std::size_t k = 0; k < kClassCount; ++k) {
    if ((w.cfg.classes & (1U << k)) != 0 && class_depth(k) > 0) return true;
  }
  return false;
}

// ---- the loop ----

// Highest class first; a due periodic release before queued tasks of lower classes;
// between both, spin briefly, then sleep on the futex until new work, a command, the
// next release (minus its spin margin), or the lead before a feed (a periodic graph's
// release by another worker, next_feed), for which it then spins until the run starts.
// RT: no allocation; the futex wait on the way to sleep is the only syscall in steady
// state. Rare ones: a membarrier when it goes to sleep the instant a producer is between
// reserving and enqueuing, and the eventfd write of a periodic task's first release
// (run_release; after that the worker announces its deadlines ahead).
void Engine::Impl::worker_loop(Worker& w) noexcept {
  hal::mark_rt_thread();  // from here on, an allocation on this thread is a P6 violation (alloc_watch.hpp)
  w.started_at.store(hal::now_ns(), std::memory_order_relaxed);
  w.state.store(WorkerState::Idle, std::memory_order_relaxed);
  // Last, with release: start_worker returns once it sees the tid, and a query from then
  // on must see a running worker (not Stopped) to read its faults from /proc.
  w.tid.store(hal::current_tid(), std::memory_order_release);
  const ns_t spin = w.idle_spin(engine.cfg_.idle_spin);
  std::uint32_t idx = 0;
  for (;;) {
    ns_t wake_at = kNever;
    PeriodicTask* hybrid = nullptr;  // a hybrid task whose spin starts at wake_at
    if (w.periodic_count.load(std::memory_order_relaxed) != 0) {
      if (w.periodic_commands.load(std::memory_order_acquire) != w.periodic_seen)
        apply_periodic_commands(w, hal::now_ns());
      if (PeriodicTask* p = earliest_release(w); p != nullptr) {
        const ns_t at = p->next - detail::periodic_margin(*p);
        if (hal::now_ns() >= at) {
          if (pop_any(w, idx, static_cast<std::size_t>(p->spec.priority))) {
            run_item(w, idx);
            continue;
          }
          // The spin up to the release; a command (stop, pause) or the engine's stop ends it.
          bool interrupted = false;
          while (hal::now_ns() < p->next && !interrupted) {
            detail::cpu_relax();
            interrupted = w.stop.load(std::memory_order_relaxed) ||
                          w.periodic_commands.load(std::memory_order_relaxed) != w.periodic_seen;
          }
          if (w.stop.load(std::memory_order_acquire)) break;
          if (interrupted) continue;
          end_posts(w);
          run_release(w, *p);
          continue;
        }
        wake_at = at;
        if (p->spec.precision == Precision::Hybrid) hybrid = p;
      }
    }
    if (pop_any(w, idx, kClassCount)) {
      run_item(w, idx);
      continue;
    }
    end_posts(w);  // idle from here: a run of posts ends
    if (w.stop.load(std::memory_order_acquire)) break;
    bool got = false;
    ns_t now = hal::now_ns();
    // A feed (the start of a periodic graph's run, queued by another worker at its
    // release): this worker sleeps until its lead before it at most, and from then spins
    // until the start comes or its window ends (next_feed).
    Feed feed = next_feed(w, now, spin);
    const bool feeding = feed.f != nullptr && now >= feed.at - feed.lead;
    const ns_t until = std::min(feeding ? std::max(now + spin, feed.wait_until) : now + spin, wake_at);
    // The clock is read once per 32 polls: a poll is a few loads, a clock read is not. A
    // stop or a periodic command ends the spin (stop() must not wait out idle_spin).
    while (!got && (now = hal::now_ns()) < until) {
      for (int i = 0; i < 32; ++i) {
        if ((got = pop_any(w, idx, kClassCount))) break;
        detail::cpu_relax();
      }
      if (got || w.stop.load(std::memory_order_relaxed) ||
          w.periodic_commands.load(std::memory_order_relaxed) != w.periodic_seen)
        break;
      // Released while this worker looked: its start is queued (another worker took it,
      // or a release that found the last run going queued none). One more look, then the
      // window ends.
      if (feeding && feed.f->loop->next_release.load(std::memory_order_relaxed) > feed.at) {
        got = pop_any(w, idx, kClassCount);
        feed.f->fed = feed.at;
        break;
      }
    }
    if (got) {
      // Met: the start of the run it waited for (other work leaves the window open).
      if (feeding && detail::is_node_ref(idx) && detail::graph_of(idx) == feed.f->graph) {
        w.feeds_met.add();
        feed.f->fed = feed.at;
      }
      run_item(w, idx);
      continue;
    }
    if (wake_at != kNever && now >= wake_at) continue;
    if (feeding) feed = next_feed(w, now, spin);  // its window ended: the next one
    // A feed's lead, unless the worker's own hybrid wake-up comes within idle_spin after
    // it: that one is early enough too, and its lateness is what the margin learns from.
    bool prewake = false;
    if (feed.f != nullptr && feed.at - feed.lead < wake_at - (hybrid != nullptr ? spin : 0)) {
      if (now >= feed.at - feed.lead) continue;  // its lead began during the spin: spin on
      wake_at = feed.at - feed.lead;
      prewake = true;
    }
    const std::uint32_t s = w.seq.load(std::memory_order_acquire);
    // Dekker handshake with wake_one and command_periodic, all seq_cst: either the waker
    // sees `sleeping` or this worker sees the new depth or command. (No fences: TSan
    // cannot model them.)
    w.sleeping.store(true, std::memory_order_seq_cst);
    if (w.stop.load(std::memory_order_seq_cst) ||
        w.periodic_commands.load(std::memory_order_seq_cst) != w.periodic_seen) {
      w.sleeping.store(false, std::memory_order_relaxed);
      continue;
    }
    if (has_work(w)) {
      if (pop_any(w, idx, kClassCount)) {
        w.sleeping.store(false, std::memory_order_relaxed);
        run_item(w, idx);
        continue;
      }
      // A place is reserved but its item not visible yet (settle_invisible_item).
      if (settle_invisible_item()) {
        if (pop_any(w, idx, kClassCount)) {
          w.sleeping.store(false, std::memory_order_relaxed);
          run_item(w, idx);
          continue;
        }
      } else {
        wake_at = std::min(wake_at, hal::now_ns() + kRecheck);
      }
    }
    w.sleeps.add();
    if (wake_at == kNever) {
      (void)hal::futex_wait(w.seq, s);
    } else {
      (void)hal::futex_wait_until(w.seq, s, wake_at);
      if (prewake && wake_at == feed.at - feed.lead) {
        // How late it returned moves the lead (next_feed). Its own timer: a pre-wake. Woken
        // for work after its time (as when the run's start came first: the lead was too
        // short), its timer was at least that late: counted too, or the lead would learn
        // only from the pre-wakes that came in time. Before its time: nothing.
        if (const ns_t woke = hal::now_ns(); woke >= wake_at) {
          if (w.seq.load(std::memory_order_relaxed) == s) w.prewakes.add();
          feed.f->lag->record(woke - wake_at);
          w.feed_lead.store(feed.lead, std::memory_order_relaxed);
        }
      } else if (hybrid != nullptr && wake_at == hybrid->next - hybrid->margin) {
        note_wake(w, *hybrid, s, wake_at);
      }
    }
    w.sleeping.store(false, std::memory_order_relaxed);
  }
  end_posts(w);
  w.minor_faults.store(hal::minor_faults_this_thread(), std::memory_order_relaxed);  // on the way out
  w.stopped_at.store(hal::now_ns(), std::memory_order_relaxed);
  w.state.store(WorkerState::Stopped, std::memory_order_relaxed);
}

}  // namespace rt
