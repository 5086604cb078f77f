#include "ring.hpp"

#include <new>
#include <stdexcept>
#include <string>

namespace rt::detail {

namespace {
struct SetupArena {
  explicit SetupArena(Arena& a) { RingMemory::setup_arena = &a; }
  ~SetupArena() { RingMemory::setup_arena = nullptr; }
  SetupArena(const SetupArena&) = delete;
  SetupArena& operator=(const SetupArena&) = delete;
};
}  // namespace

Ring::Ring(Arena& arena, std::size_t capacity, std::size_t producers, std::size_t consumers)
    : capacity_(static_cast<std::int64_t>(capacity)) {
  if (capacity == 0) throw std::invalid_argument("ring capacity must be at least 1");
  SetupArena scope(arena);
  void* q = arena.try_allocate(sizeof(Queue), alignof(Queue));
  if (q == nullptr) throw std::length_error("engine arena exhausted by a ring; raise EngineConfig::arena_bytes");
  // Producers hold on to their blocks, so the pool is sized for every producer to hold a
  // full ring at once (moodycamel's own formula for explicit producers), plus the slack.
  queue_ = ::new (q) Queue(capacity + producers * kSlackPerProducer, producers, 0);
  producers_.reserve(producers);
  for (std::size_t i = 0; i < producers; ++i) {
    void* p = arena.try_allocate(sizeof(moodycamel::ProducerToken), alignof(moodycamel::ProducerToken));
    if (p == nullptr) throw std::length_error("engine arena exhausted by ring tokens; raise EngineConfig::arena_bytes");
    auto* tok = ::new (p) moodycamel::ProducerToken(*queue_);
    if (!tok->valid())
      throw std::length_error("engine arena exhausted by a ring producer; raise EngineConfig::arena_bytes");
    producers_.push_back(tok);
  }
  consumers_.reserve(consumers);
  for (std::size_t i = 0; i < consumers; ++i) {
    void* p = arena.try_allocate(sizeof(moodycamel::ConsumerToken), alignof(moodycamel::ConsumerToken));
    if (p == nullptr) throw std::length_error("engine arena exhausted by ring tokens; raise EngineConfig::arena_bytes");
    consumers_.push_back(::new (p) moodycamel::ConsumerToken(*queue_));
  }
}

}  // namespace rt::detail
