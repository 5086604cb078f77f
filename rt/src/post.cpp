// Producer::try_post (F5, P4): callables carried in their class's post ring itself, with
// no task slot. What a submission costs beyond the ring is its slot: the producer writes
// four of its lines and a worker reads and writes them back (state, history, times), with
// three clock reads and the retire. For work that needs no id, the ring alone does: on a
// 2-vCPU VM (P4, three runs' medians of 7 repetitions), trivial tasks ran at 1.6-4.7 M/s
// through try_submit, 3.3-14 M/s through try_post and 14-29 M/s through try_post_batch,
// beside 7-14 M/s for a bare moodycamel queue of the same 80-byte items (11-13 M/s in bulk).
#include "engine_impl.hpp"

namespace rt {

using detail::Worker;

std::size_t Engine::post(std::size_t producer, Priority p, const detail::PostItem* items, std::size_t n,
                         SubmitStatus& status) noexcept {
  Impl& m = *impl_;
  const auto k = static_cast<std::size_t>(p);
  if (k >= kClassCount || m.posts[k] == nullptr) {
    m.counters.invalid.add();
    status = SubmitStatus::Invalid;
    return 0;
  }
  detail::ProducerState& ps = m.producers[producer];
  // The entry handshake with stop(), as acquire()'s.
  if (asymmetric_entry_) {
    ps.inside.store(true, std::memory_order_relaxed);
    hal::light_fence();
  } else {
    ps.inside.store(true, std::memory_order_seq_cst);
  }
  std::size_t got = 0;
  if (!accepting_.load(std::memory_order_seq_cst)) {
    status = SubmitStatus::Stopped;
  } else {
    // The reservation is also this side of the sleep handshake (ring.hpp): a worker going
    // to sleep sees it, or wake_one below sees the worker asleep.
    got = m.posts[k]->try_reserve_n(n);
    if (got > 0 && !m.posts[k]->push_reserved_bulk(producer, items, got)) {
      m.counters.ring_push_refusals.add();  // moodycamel refused below capacity (ring.hpp)
      got = 0;
    }
    if (got < n) {
      m.counters.queue_full[k].add();
      status = SubmitStatus::QueueFull;
    }
    if (got > 0) ps.posted.add(got);
  }
  ps.inside.store(false, std::memory_order_release);
  if (got > 0) m.wake_one(k);
  return got;
}

void Engine::Impl::run_post(Worker& w) noexcept {
  if (w.posts_since == 0) w.posts_since = hal::now_ns();
  // stop(Cancel) drops what is still queued, as it cancels queued tasks.
  if (cancelling.load(std::memory_order_relaxed)) {
    w.out.add(w.out.cancelled);
    return;
  }
  static const Context kNoContext{};
  TaskContext ctx(TaskId{}, post_stop, 1, kNoContext, 0, 0, 0, w.index);
  bool threw = false;
  try {
    detail::PostItem& item = w.held[w.held_i - 1];
    item.invoke(item.buf, ctx);
  } catch (...) {  // F12: the post's failure, never the engine's
    threw = true;
  }
  w.tasks_done.add();
  if (threw) {
    w.out.add(w.out.exceptions);
    w.out.add(w.out.failed);
  } else {
    w.out.add(w.out.completed);
  }
}

void Engine::Impl::end_posts(Worker& w) noexcept HAL_NONBLOCKING {
  if (w.posts_since == 0) return;
  w.busy_ns.add(static_cast<std::uint64_t>(hal::now_ns() - w.posts_since));
  w.posts_since = 0;
}

}  // namespace rt
