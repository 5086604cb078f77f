#pragma once
// F1/F5: one bounded ring per priority class on moodycamel::ConcurrentQueue. The queue
// takes every byte it will ever use from the engine arena at setup (RingTraits), and
// only try_ calls with tokens are made on it, which never allocate. moodycamel's own
// capacity is per-producer and approximate, so an atomic depth counter in front makes
// the bound exact: the (capacity + 1)th item is refused, counted, and never enqueued.
#include <concurrentqueue/concurrentqueue.h>

#include <atomic>
#include <cstdint>
#include <memory>
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

using Queue = moodycamel::ConcurrentQueue<std::uint32_t, RingTraits>;

// An explicit producer reuses only the block just ahead of its tail; one item lingering
// there (its consumers busy with other producers) makes it take a fresh block although
// the ring is below capacity. The queue is therefore built for `capacity` plus this much
// per producer, which covers a consumer's rotation over every producer (measured: without
// it, 4 producers on 2 CPUs failed an enqueue about once per 10^6). A failure that still
// happens is refused as QueueFull (Engine::publish), never lost.
inline constexpr std::size_t kSlackPerProducer =
    4 * RingTraits::EXPLICIT_CONSUMER_CONSUMPTION_QUOTA_BEFORE_ROTATE + 2 * 32;

class Ring {
 public:
  // Setup only: carves the queue, `producers` producer tokens and `consumers` consumer
  // tokens from `arena`.
  Ring(Arena& arena, std::size_t capacity, std::size_t producers, std::size_t consumers);
  Ring(const Ring&) = delete;
  Ring& operator=(const Ring&) = delete;

  // Takes one place of the capacity; false when the ring is full (the caller counts it).
  // RT: wait-free; one atomic add (and one more to undo when full).
  [[nodiscard]] bool try_reserve() noexcept HAL_NONBLOCKING {
    // seq_cst: the increment is half of the sleep/wake handshake with idle workers
    // (Engine's wake_one and worker_loop), which must not reorder with their loads.
    if (depth_.fetch_add(1, std::memory_order_seq_cst) >= capacity_) {
      depth_.fetch_sub(1, std::memory_order_relaxed);
      return false;
    }
    return true;
  }

  // Enqueues into a place taken by try_reserve. The queue is sized so this should not
  // fail; if it does, the place is given back and false returned.
  // RT: lock-free; no allocation, no syscall.
  [[nodiscard]] bool push_reserved(std::size_t producer, std::uint32_t v) noexcept HAL_NONBLOCKING {
    if (queue_->try_enqueue(*producers_[producer], v)) return true;
    depth_.fetch_sub(1, std::memory_order_relaxed);
    return false;
  }

  // RT: lock-free; no allocation, no syscall.
  [[nodiscard]] bool try_push(std::size_t producer, std::uint32_t v) noexcept HAL_NONBLOCKING {
    return try_reserve() && push_reserved(producer, v);
  }

  // RT: lock-free; no allocation, no syscall.
  [[nodiscard]] bool try_pop(std::size_t consumer, std::uint32_t& v) noexcept HAL_NONBLOCKING {
    if (depth_.load(std::memory_order_acquire) <= 0) return false;
    if (!queue_->try_dequeue(*consumers_[consumer], v)) return false;
    depth_.fetch_sub(1, std::memory_order_acq_rel);
    return true;
  }

  // RT: wait-free.
  [[nodiscard]] std::int64_t depth() const noexcept HAL_NONBLOCKING { return depth_.load(std::memory_order_seq_cst); }
  [[nodiscard]] std::size_t capacity() const noexcept { return static_cast<std::size_t>(capacity_); }

 private:
  alignas(hal::kCacheLine) std::atomic<std::int64_t> depth_{0};
  std::int64_t capacity_;
  Queue* queue_;
  std::vector<moodycamel::ProducerToken*> producers_;
  std::vector<moodycamel::ConsumerToken*> consumers_;
};

}  // namespace rt::detail
