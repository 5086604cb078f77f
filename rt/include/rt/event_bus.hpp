#pragma once
// F19: the engine's events, delivered to subscribers. One non-RT thread (the dispatcher)
// takes events from the engine's ring (Engine::poll_events) in batches and hands each to
// the subscribers whose filter it matches, and keeps the recent ones for queries.
//
// Nothing here is on the run path: every call may allocate, lock and block. RT threads
// never touch the bus; they publish into the engine's ring as before, and the bus tells
// the engine which kinds to publish at all (Engine::set_event_interest): the union of its
// subscribers' kinds and the kinds its history keeps.
//
// Order: each drained batch is stably sorted by `at` before delivery, so the events of one
// task published by different threads (its worker, the monitor) come out in time order
// when they arrive in the same batch. Across batches the order is the order they were
// polled in: an event that reaches the engine's ring after its batch was taken comes in a
// later one, behind events with a later `at`.
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "hal/thread.hpp"
#include "rt/engine.hpp"
#include "rt/event.hpp"

namespace rt {

struct EventFilter {
  EventMask kinds = kAllEvents;
  int type = -1;       // TypeId, or -1 for any; only events about a task or periodic task match one
  long workflow = -1;  // WorkflowId, or -1 for any (0: events about no workflow)

  [[nodiscard]] bool matches(const Event& ev) const noexcept;
};

struct EventBusConfig {
  std::size_t history = 1024;              // recent events kept for recent(); 0: none
  ns_t poll_interval = 1 * hal::kNsPerMs;  // the dispatcher's sleep when the engine's ring is empty
  std::size_t batch = 256;                 // events taken per poll (at least 1)
  // The kinds the history keeps. Not PeriodicRun unless asked for: a kHz loop would push
  // everything else out of the history within a second, and make every run publish.
  EventMask history_kinds = kAllEvents & ~event_bit(EventKind::PeriodicRun);
};

struct SubscriberStats {
  int id = 0;
  std::uint64_t delivered = 0;  // events handed to the handler (those that threw included)
  std::uint64_t errors = 0;     // of those, how many threw
  std::string last_error;       // what() of the last one (or "unknown exception")
};

struct EventBusStats {
  std::uint64_t polled = 0;                  // taken from the engine
  std::uint64_t delivered = 0;               // handler calls, over all subscribers
  std::uint64_t subscriber_errors = 0;       // handler calls that threw
  std::uint64_t history_evicted = 0;         // the oldest event dropped for a newer one
  std::uint64_t engine_dropped = 0;          // Stats::events_dropped at the last poll (the engine's ring overflowed)
  std::vector<SubscriberStats> subscribers;  // the current ones, by id
};

class EventBus {
 public:
  using Handler = std::function<void(const Event&)>;

  // Setup: reserves the batch buffer and the history, and sets the engine's interest to
  // the history's kinds. The bus becomes the engine's only poll_events consumer: nobody
  // else may poll while it lives. `e` must outlive the bus. Throws std::invalid_argument
  // naming the field.
  explicit EventBus(Engine& e, EventBusConfig c = {});
  // stop(), then gives the engine back the interest it had before the bus.
  ~EventBus();
  EventBus(const EventBus&) = delete;
  EventBus& operator=(const EventBus&) = delete;

  // Any thread, also while running and from inside a handler. The handler runs on the
  // dispatcher thread (or flush's caller when not started), one event at a time, never
  // concurrently with another handler of this bus. One added during a batch receives
  // events from the next batch on. Returns the subscriber's id (> 0). Throws
  // std::invalid_argument for an empty handler.
  int subscribe(EventFilter f, Handler h);
  // False for an unknown id. Once it returns, the handler is not called again; from any
  // thread but a handler's, it also waits for a call in progress to return (so whatever
  // the handler refers to may go). From a handler it does not wait (that would be itself).
  bool unsubscribe(int id);

  // Starts the dispatcher thread "rt-events": SCHED_OTHER even when the caller is RT (it
  // keeps the caller's CPU affinity). Throws std::logic_error if it runs already, what
  // hal::Thread throws if no thread can be made. Restartable after stop().
  void start();
  // Delivers what the engine holds now, then joins the dispatcher; nothing to do when not
  // started. Throws std::logic_error from inside a handler (it could join itself).
  void stop();
  // Returns once every event published before the call (its publish_event returned) has
  // been delivered: by the dispatcher when started, on the calling thread otherwise.
  // Throws std::logic_error from inside a handler (it would wait for itself).
  void flush();

  // Up to `max` of the kept events with at >= since that match `f`, oldest first (the
  // newest last).
  [[nodiscard]] std::vector<Event> recent(std::size_t max = 100, ns_t since = 0, EventFilter f = {}) const;
  [[nodiscard]] EventBusStats stats() const;
  [[nodiscard]] bool running() const;

 private:
  struct Subscriber;
  using SubscriberList = std::vector<std::shared_ptr<Subscriber>>;

  void dispatch_loop();
  // Polls one batch and delivers it; returns how many events it took. Caller holds drain_mu_.
  std::size_t drain_batch();
  void deliver(const SubscriberList& subs, std::size_t n);
  void note_error(Subscriber& s, const char* what);
  void keep(const Event& ev);  // into the history; caller holds mu_
  void update_interest();      // caller holds mu_

  Engine& engine_;
  const EventBusConfig cfg_;
  const EventMask interest_before_;

  std::mutex control_mu_;  // start and stop, one at a time

  // Held while a batch is polled and delivered: one poll_events consumer at a time, and
  // handlers never run concurrently. Never held by RT threads (they never see the bus).
  std::mutex drain_mu_;
  std::vector<Event> batch_;  // drain_mu_

  // The rest: subscribers, history, counters, the dispatcher's state. Never held while a
  // handler runs, so a handler may subscribe, unsubscribe, query.
  mutable std::mutex mu_;
  std::condition_variable wake_;                       // the dispatcher's idle sleep, cut short by flush and stop
  std::condition_variable flushed_;                    // flush's wait for the dispatcher
  std::shared_ptr<const SubscriberList> subscribers_;  // replaced, never changed: delivery holds a snapshot
  int next_id_ = 1;
  std::vector<Event> history_;    // a ring of cfg_.history
  std::size_t history_head_ = 0;  // the oldest kept event
  std::size_t history_size_ = 0;
  EventBusStats counts_;  // without `subscribers`
  hal::Thread dispatcher_;
  bool running_ = false;
  bool stop_requested_ = false;
  std::uint64_t flush_requested_ = 0;  // flush() calls the dispatcher was asked to serve
  std::uint64_t flush_done_ = 0;       // requests whose drain has ended
};

}  // namespace rt
