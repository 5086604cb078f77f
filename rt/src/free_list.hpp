#pragma once
// Free task slots: one lock-free stack shared by everyone, and in front of it a small
// cache per producer, so a submission pops its slot from memory its own thread wrote
// (no CAS, no line last written by a worker) and goes to the shared stack once per batch.
#include <atomic>
#include <cstdint>

#include "hal/annotations.hpp"
#include "rt/arena.hpp"

namespace rt::detail {

// Lock-free stack of free slot indices. The head carries a tag that changes on every
// push and pop, so a pop that read a stale `next` fails its CAS (no ABA).
class FreeList {
 public:
  FreeList(Arena& arena, std::size_t n);
  // RT: lock-free; no allocation.
  bool pop(std::uint32_t& idx) noexcept HAL_NONBLOCKING;
  // RT: lock-free; no allocation.
  void push(std::uint32_t idx) noexcept HAL_NONBLOCKING;

 private:
  alignas(hal::kCacheLine) std::atomic<std::uint64_t> head_{0};  // tag << 32 | (index + 1); 0 empty
  std::atomic<std::uint32_t>* next_;
};

// Slots one producer took from the FreeList and has not used yet. Owned by the thread
// that owns the Producer handle; nobody else reads it.
inline constexpr std::size_t kSlotCacheMax = 16;
struct SlotCache {
  std::uint32_t n = 0;
  std::uint32_t batch = 1;  // refill size: small engines keep few slots out of the shared list
  std::uint32_t idx[kSlotCacheMax]{};

  // RT: lock-free; refills with up to `batch` pops when empty; no allocation.
  bool take(FreeList& list, std::uint32_t& out) noexcept HAL_NONBLOCKING {
    if (n == 0) {
      while (n < batch && list.pop(idx[n]))
        ++n;
      if (n == 0) return false;
    }
    out = idx[--n];
    return true;
  }
  // Gives back a slot this producer took and did not publish. RT: wait-free.
  void give_back(std::uint32_t i) noexcept HAL_NONBLOCKING { idx[n++] = i; }
};

}  // namespace rt::detail
