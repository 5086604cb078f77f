#pragma once
// One setup-time reservation from which every fixed pool of the engine is carved: task
// slots, ring blocks, histogram buckets. The region is mmap'd, locked when allowed, and
// written once so no page of it faults on the run path. It never grows: running out is
// a setup error naming what did not fit, never a fallback to the heap.
#include <cstddef>
#include <new>
#include <string>
#include <type_traits>

namespace rt {

class Arena {
 public:
  // Setup only: maps `bytes` (rounded up to pages), prefaults it and, with `lock`,
  // mlocks it (a refusal is reported once and the arena runs unlocked).
  // Throws std::system_error when the mapping fails.
  Arena(std::size_t bytes, bool lock);
  ~Arena();
  Arena(const Arena&) = delete;
  Arena& operator=(const Arena&) = delete;

  // Setup only: `n` bytes aligned to `align` (a power of two), or nullptr when the arena
  // is exhausted.
  [[nodiscard]] void* try_allocate(std::size_t n, std::size_t align = alignof(std::max_align_t)) noexcept;

  // Setup only: `count` default-constructed Ts. Throws std::length_error naming `what`
  // and the shortfall when the arena is exhausted.
  template <class T>
  T* make_array(std::size_t count, const char* what) {
    void* p = try_allocate(sizeof(T) * count, alignof(T));
    if (p == nullptr) throw_exhausted(sizeof(T) * count, what);
    T* out = static_cast<T*>(p);
    for (std::size_t i = 0; i < count; ++i)
      ::new (static_cast<void*>(out + i)) T();
    return out;
  }

  [[nodiscard]] std::size_t size() const noexcept { return size_; }
  [[nodiscard]] std::size_t used() const noexcept { return used_; }
  [[nodiscard]] bool locked() const noexcept { return locked_; }
  [[nodiscard]] bool contains(const void* p) const noexcept {
    auto* c = static_cast<const unsigned char*>(p);
    return c >= base_ && c < base_ + size_;
  }

 private:
  [[noreturn]] void throw_exhausted(std::size_t wanted, const char* what) const;

  unsigned char* base_ = nullptr;
  std::size_t size_ = 0;
  std::size_t used_ = 0;
  bool locked_ = false;
};

}  // namespace rt
