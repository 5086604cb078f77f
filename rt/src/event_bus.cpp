// The event bus's dispatcher (rt/event_bus.hpp). Two locks: drain_mu_ is held for one
// batch (poll, sort, deliver) and makes the bus the engine's one consumer at a time;
// mu_ guards everything else and is never held while a handler runs, so a handler may
// call back into the bus (subscribe, unsubscribe, recent, stats) without deadlock.
#include "rt/event_bus.hpp"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <exception>
#include <stdexcept>
#include <utility>

namespace rt {

namespace {

// The bus whose handlers this thread runs now, if any. flush and stop from a handler
// would wait for their own thread; unsubscribe must not wait for its own call.
thread_local const EventBus* tl_delivering = nullptr;

struct DeliveringScope {
  explicit DeliveringScope(const EventBus* b) noexcept : prev(tl_delivering) { tl_delivering = b; }
  ~DeliveringScope() { tl_delivering = prev; }
  DeliveringScope(const DeliveringScope&) = delete;
  DeliveringScope& operator=(const DeliveringScope&) = delete;
  const EventBus* prev;
};

}  // namespace

struct EventBus::Subscriber {
  int id = 0;
  EventFilter filter;
  Handler handler;
  // Cleared by unsubscribe: a snapshot taken before still lists it, and delivery looks here
  // before each call.
  std::atomic<bool> active{true};
  std::atomic<std::uint64_t> delivered{0}, errors{0};
  std::string last_error;  // mu_
};

bool EventFilter::matches(const Event& ev) const noexcept {
  if ((kinds & event_bit(ev.kind)) == 0) return false;
  if (type >= 0) {
    const bool about_a_task = ev.subject == Subject::Task || ev.subject == Subject::Periodic;
    if (!about_a_task || ev.type != type) return false;
  }
  return workflow < 0 || ev.workflow == static_cast<WorkflowId>(workflow);
}

EventBus::EventBus(Engine& e, EventBusConfig c)
    : engine_(e),
      cfg_(c),
      interest_before_(e.event_interest()),
      subscribers_(std::make_shared<const SubscriberList>()) {
  if (cfg_.batch == 0) throw std::invalid_argument("EventBusConfig::batch must be at least 1");
  if (cfg_.poll_interval <= 0) throw std::invalid_argument("EventBusConfig::poll_interval must be positive");
  batch_.resize(cfg_.batch);
  history_.resize(cfg_.history);
  const std::lock_guard lk(mu_);
  update_interest();
}

EventBus::~EventBus() {
  stop();
  engine_.set_event_interest(interest_before_);
}

int EventBus::subscribe(EventFilter f, Handler h) {
  if (!h) throw std::invalid_argument("EventBus::subscribe: the handler is empty");
  auto sub = std::make_shared<Subscriber>();
  sub->filter = f;
  sub->handler = std::move(h);
  const std::lock_guard lk(mu_);
  sub->id = next_id_++;
  auto list = std::make_shared<SubscriberList>(*subscribers_);
  list->push_back(sub);
  subscribers_ = std::move(list);
  update_interest();
  return sub->id;
}

bool EventBus::unsubscribe(int id) {
  {
    const std::lock_guard lk(mu_);
    const auto it =
        std::find_if(subscribers_->begin(), subscribers_->end(), [id](const auto& s) { return s->id == id; });
    if (it == subscribers_->end()) return false;
    (*it)->active.store(false, std::memory_order_release);
    auto list = std::make_shared<SubscriberList>(*subscribers_);
    list->erase(list->begin() + (it - subscribers_->begin()));
    subscribers_ = std::move(list);
    update_interest();
  }
  // A batch that took its snapshot before may be calling the handler now: wait for it to
  // end. Not from a handler: that batch is this thread's own.
  if (tl_delivering != this) {
    const std::lock_guard wait_for_batch(drain_mu_);
  }
  return true;
}

void EventBus::start() {
  const std::lock_guard control(control_mu_);  // dispatcher_ is start's and stop's only
  {
    const std::lock_guard lk(mu_);
    if (running_) throw std::logic_error("EventBus::start: the dispatcher runs already");
    stop_requested_ = false;
  }
  // Priority 0 is SCHED_OTHER, set explicitly: a thread inherits its creator's policy
  // (glibc's default PTHREAD_INHERIT_SCHED), and handlers are not RT code.
  dispatcher_ = hal::Thread(hal::ThreadSpec{.name = "rt-events", .priority = 0, .prefault_stack_bytes = 0},
                            [this] { dispatch_loop(); });
  // Only once the thread exists (hal::Thread may throw). A flush before this drains by
  // itself, one batch at a time with the dispatcher (drain_mu_).
  const std::lock_guard lk(mu_);
  running_ = true;
}

void EventBus::stop() {
  if (tl_delivering == this) throw std::logic_error("EventBus::stop from inside a handler");
  const std::lock_guard control(control_mu_);
  {
    const std::lock_guard lk(mu_);
    if (!running_) return;
    stop_requested_ = true;
  }
  wake_.notify_all();
  dispatcher_.join();
  {
    const std::lock_guard lk(mu_);
    running_ = false;
  }
  flushed_.notify_all();  // a flush that asked too late to be served drains by itself
}

bool EventBus::running() const {
  const std::lock_guard lk(mu_);
  return running_;
}

void EventBus::flush() {
  if (tl_delivering == this) throw std::logic_error("EventBus::flush from inside a handler would wait for itself");
  {
    std::unique_lock lk(mu_);
    if (running_) {
      const std::uint64_t mine = ++flush_requested_;
      wake_.notify_all();
      flushed_.wait(lk, [&] { return flush_done_ >= mine || !running_; });
      if (flush_done_ >= mine) return;
    }
  }
  // Not started (or stopped meanwhile): the caller drains, as the dispatcher would.
  const DeliveringScope scope(this);
  for (bool more = true; more;) {
    const std::lock_guard d(drain_mu_);
    more = drain_batch() == cfg_.batch;
  }
}

void EventBus::dispatch_loop() {
  const DeliveringScope scope(this);  // everything this thread runs besides the bus is a handler
  std::unique_lock lk(mu_);
  for (;;) {
    // Read before the drain: a request (or stop) made before this point is served by it.
    const std::uint64_t target = flush_requested_;
    const bool last = stop_requested_;
    lk.unlock();
    std::size_t n = 0;
    {
      const std::lock_guard d(drain_mu_);
      n = drain_batch();
    }
    lk.lock();
    if (n == cfg_.batch) continue;  // a full batch: there may be more, take it before anything else
    // A short batch: the ring was empty at the end of that poll, so everything published
    // before `target` was asked for has been delivered.
    flush_done_ = target;
    flushed_.notify_all();
    if (last) return;
    wake_.wait_for(lk, std::chrono::nanoseconds(cfg_.poll_interval),
                   [&] { return stop_requested_ || flush_requested_ != target; });
  }
}

std::size_t EventBus::drain_batch() {
  const std::size_t n = engine_.poll_events(batch_.data(), batch_.size());
  const std::uint64_t dropped = engine_.events_dropped();
  // Stable: events of one thread with the same `at` (a DeadlineMiss and its Timeout) keep
  // the order their thread published them in. An insertion sort: linear on a batch that
  // is nearly in order already (each thread's events are), and no temporary buffer
  // (std::stable_sort's get_temporary_buffer is deprecated under clang 22 + libstdc++ 12).
  for (std::size_t i = 1; i < n; ++i) {
    const Event e = batch_[i];
    std::size_t j = i;
    for (; j > 0 && e.at < batch_[j - 1].at; --j)
      batch_[j] = batch_[j - 1];
    batch_[j] = e;
  }
  std::shared_ptr<const SubscriberList> subs;
  {
    const std::lock_guard lk(mu_);
    counts_.polled += n;
    counts_.engine_dropped = dropped;
    for (std::size_t i = 0; i < n; ++i)
      keep(batch_[i]);
    subs = subscribers_;
  }
  if (n > 0) deliver(*subs, n);
  return n;
}

void EventBus::deliver(const SubscriberList& subs, std::size_t n) {
  std::uint64_t calls = 0;
  std::uint64_t threw = 0;
  for (std::size_t i = 0; i < n; ++i) {
    const Event& ev = batch_[i];
    for (const auto& s : subs) {
      if (!s->filter.matches(ev) || !s->active.load(std::memory_order_acquire)) continue;
      ++calls;
      s->delivered.fetch_add(1, std::memory_order_relaxed);
      // A subscriber's failure is its own: counted, and delivery goes on to the others.
      try {
        s->handler(ev);
      } catch (const std::exception& x) {
        ++threw;
        note_error(*s, x.what());
      } catch (...) {
        ++threw;
        note_error(*s, "unknown exception");
      }
    }
  }
  const std::lock_guard lk(mu_);
  counts_.delivered += calls;
  counts_.subscriber_errors += threw;
}

void EventBus::note_error(Subscriber& s, const char* what) {
  s.errors.fetch_add(1, std::memory_order_relaxed);
  const std::lock_guard lk(mu_);
  s.last_error = what;
}

void EventBus::keep(const Event& ev) {
  if (history_.empty() || (cfg_.history_kinds & event_bit(ev.kind)) == 0) return;
  if (history_size_ == history_.size()) {
    history_[history_head_] = ev;
    history_head_ = (history_head_ + 1) % history_.size();
    ++counts_.history_evicted;
  } else {
    history_[(history_head_ + history_size_) % history_.size()] = ev;
    ++history_size_;
  }
}

void EventBus::update_interest() {
  EventMask kinds = cfg_.history > 0 ? cfg_.history_kinds : EventMask{0};
  for (const auto& s : *subscribers_)
    kinds |= s->filter.kinds;
  engine_.set_event_interest(kinds);
}

std::vector<Event> EventBus::recent(std::size_t max, ns_t since, EventFilter f) const {
  std::vector<Event> out;
  const std::lock_guard lk(mu_);
  out.reserve(std::min(max, history_size_));
  for (std::size_t k = history_size_; k > 0 && out.size() < max; --k) {
    const Event& ev = history_[(history_head_ + k - 1) % history_.size()];
    if (ev.at >= since && f.matches(ev)) out.push_back(ev);
  }
  std::reverse(out.begin(), out.end());
  return out;
}

EventBusStats EventBus::stats() const {
  const std::lock_guard lk(mu_);
  EventBusStats s = counts_;
  s.subscribers.reserve(subscribers_->size());
  for (const auto& sub : *subscribers_) {
    s.subscribers.push_back(SubscriberStats{.id = sub->id,
                                            .delivered = sub->delivered.load(std::memory_order_relaxed),
                                            .errors = sub->errors.load(std::memory_order_relaxed),
                                            .last_error = sub->last_error});
  }
  return s;
}

}  // namespace rt
