#pragma once
// F1/F5: one bounded ring per priority class on moodycamel::ConcurrentQueue. The queue
// takes every byte it will ever use from the engine arena at setup (RingTraits), and
// only try_ calls with tokens are made on it, which never allocate. moodycamel's own
// capacity is per-producer and approximate, so counters in front make the bound exact:
// the (capacity + 1)th item is refused, counted, and never enqueued.
#include <concurrentqueue/concurrentqueue.h>

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <memory>
#include <new>
#include <stdexcept>
#include <type_traits>
#include <vector>

#include "hal/annotations.hpp"
#include "rt/arena.hpp"

namespace rt::detail {

// Where RingTraits::malloc draws from. Set only while the engine builds its rings
// (setup, one thread); a ring that asks for memory at any other time gets nullptr,
// fails the operation, and the attempt is counted.
struct RingMemory {
  static inline thread_local Arena* setup_arena = nullptr;
  static inline std::atomic<std::uint64_t> refused{0};
};

struct RingTraits : moodycamel::ConcurrentQueueDefaultTraits {
  // A consumer drains at most this many items from one producer's sub-queue before it
  // moves on, which bounds how long an item can linger behind the others (see kSlack).
  static const std::uint32_t EXPLICIT_CONSUMER_CONSUMPTION_QUOTA_BEFORE_ROTATE = 32;
  static void* malloc(std::size_t n) {
    Arena* a = RingMemory::setup_arena;
    if (a == nullptr) {
      RingMemory::refused.fetch_add(1, std::memory_order_relaxed);
      return nullptr;
    }
    return a->try_allocate(n);
  }
  static void free(void*) {}  // arena memory goes back with the arena
};

// Makes RingMemory draw from `a` for as long as it lives (setup, one thread).
struct SetupArena {
  explicit SetupArena(Arena& a) noexcept { RingMemory::setup_arena = &a; }
  ~SetupArena() { RingMemory::setup_arena = nullptr; }
  SetupArena(const SetupArena&) = delete;
  SetupArena& operator=(const SetupArena&) = delete;
};

[[noreturn]] void throw_ring_exhausted(const char* what);

// An explicit producer reuses only the block just ahead of its tail; one item lingering
// there (its consumers busy with other producers) makes it take a fresh block although
// the ring is below capacity. The queue is therefore built for `capacity` plus this much
// per producer, which covers a consumer's rotation over every producer (measured: without
// it, 4 producers on 2 CPUs failed an enqueue about once per 10^6). A failure that still
// happens is refused as QueueFull (Engine::publish), never lost.
inline constexpr std::size_t kSlackPerProducer =
    4 * RingTraits::EXPLICIT_CONSUMER_CONSUMPTION_QUOTA_BEFORE_ROTATE + 2 * 32;

// The ring's exact bound without a counter that bounces between producer and consumer on
// every item: producers count places taken (`reserved_`, one read-modify-write on a line
// only producers write), each consumer counts what it took on a line of its own (a plain
// store), and the depth is their difference. A producer reads the consumers' lines only
// when its cached view says the ring may be full.
// The padding is the point: the producers' counter, the consumers' and the read-only
// fields each have their own cache line.
template <class T>
class BasicRing {  // NOLINT(clang-analyzer-optin.performance.Padding)
  static_assert(std::is_trivially_copyable_v<T>, "ring items are copied, never constructed");
  using Queue = moodycamel::ConcurrentQueue<T, RingTraits>;

  // One consumer's count of items taken: written by that consumer only.
  struct alignas(hal::kCacheLine) Taken {
    std::atomic<std::int64_t> n{0};
  };

 public:
  // Setup only: carves the queue, `producers` producer tokens and `consumers` consumer
  // tokens from `arena`. Throws std::length_error when the arena is exhausted.
  BasicRing(Arena& arena, std::size_t capacity, std::size_t producers, std::size_t consumers)
      : capacity_(static_cast<std::int64_t>(capacity)), consumer_count_(consumers) {
    if (capacity == 0) throw std::invalid_argument("ring capacity must be at least 1");
    if (consumers == 0) throw std::invalid_argument("a ring needs at least one consumer");
    SetupArena scope(arena);
    void* q = arena.try_allocate(sizeof(Queue), alignof(Queue));
    if (q == nullptr) throw_ring_exhausted("a ring");
    // Producers hold on to their blocks, so the pool is sized for every producer to hold a
    // full ring at once (moodycamel's own formula for explicit producers), plus the slack.
    queue_ = ::new (q) Queue(capacity + producers * kSlackPerProducer, producers, 0);
    producers_.reserve(producers);
    for (std::size_t i = 0; i < producers; ++i) {
      void* p = token_place<moodycamel::ProducerToken>(arena);
      if (p == nullptr) throw_ring_exhausted("ring tokens");
      auto* tok = ::new (p) moodycamel::ProducerToken(*queue_);
      if (!tok->valid()) throw_ring_exhausted("a ring producer");
      producers_.push_back(tok);
    }
    consumers_.reserve(consumers);
    for (std::size_t i = 0; i < consumers; ++i) {
      void* p = token_place<moodycamel::ConsumerToken>(arena);
      if (p == nullptr) throw_ring_exhausted("ring tokens");
      consumers_.push_back(::new (p) moodycamel::ConsumerToken(*queue_));
    }
    void* t = arena.try_allocate(sizeof(Taken) * consumers, alignof(Taken));
    if (t == nullptr) throw_ring_exhausted("ring counters");
    taken_ = static_cast<Taken*>(t);
    for (std::size_t i = 0; i < consumers; ++i)
      ::new (static_cast<void*>(taken_ + i)) Taken();
  }
  BasicRing(const BasicRing&) = delete;
  BasicRing& operator=(const BasicRing&) = delete;

  // Takes one place of the capacity; false when the ring is full (the caller counts it).
  // `seen`, when given, gets the depth this reservation saw (places being filled
  // included; it may run ahead, never behind), refreshed from the consumers' lines once it
  // reaches half the capacity: a producer whose consumer only wakes when told can tell it
  // before the ring fills.
  // RT: wait-free; one atomic add (and one more to undo when full); the consumers' lines
  // are read only when the cached count says full (half full with `seen`).
  [[nodiscard]] bool try_reserve(std::int64_t* seen = nullptr) noexcept HAL_NONBLOCKING {
    // seq_cst: the increment is half of the sleep/wake handshake with idle workers
    // (wake_one and the worker loop), which must not reorder with their loads.
    const std::int64_t r = reserved_.fetch_add(1, std::memory_order_seq_cst);
    std::int64_t t = taken_seen_.load(std::memory_order_relaxed);
    if (r - t >= (seen != nullptr ? capacity_ / 2 : capacity_)) {
      t = taken();
      taken_seen_.store(t, std::memory_order_relaxed);  // a lower (older) value only costs a re-read
    }
    if (seen != nullptr) *seen = r - t;
    if (r - t < capacity_) return true;
    reserved_.fetch_sub(1, std::memory_order_relaxed);
    return false;
  }

  // Takes up to `want` places at once: fewer when the ring is nearly full, 0 when full.
  // The caller fills exactly that many with push_reserved_bulk. As with try_reserve, a
  // producer may be refused in the instant between the add and the give-back of what was
  // not granted. RT: wait-free; one atomic add (and one more to give back the excess).
  [[nodiscard]] std::size_t try_reserve_n(std::size_t want) noexcept HAL_NONBLOCKING {
    const auto n = static_cast<std::int64_t>(want);
    // seq_cst: half of the sleep/wake handshake, as in try_reserve.
    const std::int64_t r = reserved_.fetch_add(n, std::memory_order_seq_cst);
    std::int64_t t = taken_seen_.load(std::memory_order_relaxed);
    if (r + n - t > capacity_) {
      t = taken();
      taken_seen_.store(t, std::memory_order_relaxed);
    }
    const std::int64_t got = std::clamp<std::int64_t>(capacity_ - (r - t), 0, n);
    if (got < n) reserved_.fetch_sub(n - got, std::memory_order_relaxed);
    return static_cast<std::size_t>(got);
  }

  // Enqueues `n` items into places taken by try_reserve_n, in one step of the queue. False
  // (the places given back) when the queue refused them, as push_reserved.
  // RT: lock-free; no allocation, no syscall.
  [[nodiscard]] bool push_reserved_bulk(std::size_t producer, const T* v, std::size_t n) noexcept HAL_NONBLOCKING {
    if (queue_->try_enqueue_bulk(*producers_[producer], v, n)) return true;
    reserved_.fetch_sub(static_cast<std::int64_t>(n), std::memory_order_relaxed);
    return false;
  }

  // Gives back a place taken by try_reserve that will not be used. RT: wait-free.
  void unreserve() noexcept HAL_NONBLOCKING { reserved_.fetch_sub(1, std::memory_order_relaxed); }

  // Enqueues into a place taken by try_reserve. The queue is sized so this should not
  // fail; if it does, the place is given back and false returned.
  // RT: lock-free; no allocation, no syscall.
  [[nodiscard]] bool push_reserved(std::size_t producer, const T& v) noexcept HAL_NONBLOCKING {
    if (queue_->try_enqueue(*producers_[producer], v)) return true;
    unreserve();
    return false;
  }

  // `seen`: as for try_reserve. RT: lock-free; no allocation, no syscall.
  [[nodiscard]] bool try_push(std::size_t producer, const T& v, std::int64_t* seen = nullptr) noexcept HAL_NONBLOCKING {
    return try_reserve(seen) && push_reserved(producer, v);
  }

  // One consumer index is used by one thread at a time (as its moodycamel token). No
  // look at `reserved_` first: a consumer polling it would make every producer's
  // reservation wait for the line to come back.
  // RT: lock-free; no allocation, no syscall.
  [[nodiscard]] bool try_pop(std::size_t consumer, T& v) noexcept HAL_NONBLOCKING {
    if (!queue_->try_dequeue(*consumers_[consumer], v)) return false;
    std::atomic<std::int64_t>& n = taken_[consumer].n;
    n.store(n.load(std::memory_order_relaxed) + 1, std::memory_order_release);
    return true;
  }

  // Takes up to `max` items at once (in their order) into `v`; returns how many. One
  // consumer index per thread, as try_pop. RT: lock-free; no allocation, no syscall.
  // clang's effect analysis refuses moodycamel's dequeue_bulk for its try/catch, kept for
  // element types whose assignment may throw; ring items are trivially copyable
  // (static_assert above), so that branch never runs, and RealtimeSanitizer still checks
  // the call at run time.
#if defined(__clang__)
#pragma clang diagnostic push
#pragma clang diagnostic ignored "-Wunknown-warning-option"  // clang-tidy's older clang has no such group
#pragma clang diagnostic ignored "-Wfunction-effects"
#endif
  [[nodiscard]] std::size_t try_pop_bulk(std::size_t consumer, T* v, std::size_t max) noexcept HAL_NONBLOCKING {
    const std::size_t n = queue_->try_dequeue_bulk(*consumers_[consumer], v, max);
    if (n == 0) return 0;
    std::atomic<std::int64_t>& c = taken_[consumer].n;
    c.store(c.load(std::memory_order_relaxed) + static_cast<std::int64_t>(n), std::memory_order_release);
    return n;
  }
#if defined(__clang__)
#pragma clang diagnostic pop
#endif

  // Items in the ring, places being filled included. RT: wait-free; one load per consumer.
  [[nodiscard]] std::int64_t depth() const noexcept HAL_NONBLOCKING {
    const std::int64_t d = reserved_.load(std::memory_order_seq_cst) - taken();
    return d > 0 ? d : 0;
  }
  // As depth(), and the reservation count it read. Found empty, the consumers had taken at
  // least that many; their counts only grow, and the depth is the reservations less what
  // they took: so the ring stays empty for as long as reservations() returns that count,
  // and a poller (higher_work) reads one line, not every consumer's.
  // RT: wait-free; one load per consumer.
  [[nodiscard]] std::int64_t depth(std::int64_t& reserved) const noexcept HAL_NONBLOCKING {
    reserved = reserved_.load(std::memory_order_seq_cst);
    const std::int64_t d = reserved - taken();
    return d > 0 ? d : 0;
  }
  // RT: wait-free; one load.
  [[nodiscard]] std::int64_t reservations() const noexcept HAL_NONBLOCKING {
    return reserved_.load(std::memory_order_seq_cst);
  }
  [[nodiscard]] std::size_t capacity() const noexcept { return static_cast<std::size_t>(capacity_); }

 private:
  // A token on lines of its own: a consumer writes its token on every dequeue, and a
  // producer token on the same line then misses on every enqueue (P4: 21% of the
  // producer's samples sat on that one load).
  template <class Token>
  static void* token_place(Arena& arena) noexcept {
    constexpr std::size_t kLine = hal::kCacheLine;
    return arena.try_allocate((sizeof(Token) + kLine - 1) / kLine * kLine, kLine);
  }

  [[nodiscard]] std::int64_t taken() const noexcept HAL_NONBLOCKING {
    std::int64_t t = 0;
    for (std::size_t i = 0; i < consumer_count_; ++i)
      t += taken_[i].n.load(std::memory_order_acquire);
    return t;
  }

  alignas(hal::kCacheLine) std::atomic<std::int64_t> reserved_{0};  // producers' line
  std::atomic<std::int64_t> taken_seen_{0};                         // producers' cached sum of taken_
  alignas(hal::kCacheLine) std::int64_t capacity_;
  std::size_t consumer_count_;
  Queue* queue_;
  Taken* taken_ = nullptr;
  std::vector<moodycamel::ProducerToken*> producers_;
  std::vector<moodycamel::ConsumerToken*> consumers_;
};

using Ring = BasicRing<std::uint32_t>;  // task slot indices

}  // namespace rt::detail
