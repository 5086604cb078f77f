// The counting global allocator behind rtengine_allocations_after_start_total: every form
// of operator new tells hal::note_allocation, which counts the calls made on the engine's
// RT threads. Linked into the `rtengine` executable (and http_tests) only, never into a
// library: replacing operator new is the program's choice, not a library's. Direct malloc
// calls are not seen (tests/rt/no_alloc_test.cpp checks those, in its own process).
#include <cstdlib>
#include <new>

#include "hal/alloc_watch.hpp"

namespace {
// A static initializer: allocations_after_start() reports -1 unless this TU is linked in.
const bool g_registered = [] {
  hal::set_allocation_counting();
  return true;
}();

void* allocate(std::size_t n) noexcept {
  hal::note_allocation();
  return std::malloc(n == 0 ? 1 : n);
}
void* allocate(std::size_t n, std::align_val_t a) noexcept {
  hal::note_allocation();
  const auto align = static_cast<std::size_t>(a);
  // aligned_alloc wants a size that is a multiple of the alignment (C11 7.22.3.1).
  return std::aligned_alloc(align, ((n == 0 ? 1 : n) + align - 1) & ~(align - 1));
}
void* or_throw(void* p) {
  if (p == nullptr) throw std::bad_alloc();
  return p;
}
}  // namespace

// NOLINTBEGIN(misc-new-delete-overloads): each form is replaced, as [new.delete] allows.
void* operator new(std::size_t n) { return or_throw(allocate(n)); }
void* operator new[](std::size_t n) { return or_throw(allocate(n)); }
void* operator new(std::size_t n, const std::nothrow_t&) noexcept { return allocate(n); }
void* operator new[](std::size_t n, const std::nothrow_t&) noexcept { return allocate(n); }
void* operator new(std::size_t n, std::align_val_t a) { return or_throw(allocate(n, a)); }
void* operator new[](std::size_t n, std::align_val_t a) { return or_throw(allocate(n, a)); }
void* operator new(std::size_t n, std::align_val_t a, const std::nothrow_t&) noexcept { return allocate(n, a); }
void* operator new[](std::size_t n, std::align_val_t a, const std::nothrow_t&) noexcept { return allocate(n, a); }
void operator delete(void* p) noexcept { std::free(p); }
void operator delete[](void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }
void operator delete[](void* p, std::size_t) noexcept { std::free(p); }
void operator delete(void* p, const std::nothrow_t&) noexcept { std::free(p); }
void operator delete[](void* p, const std::nothrow_t&) noexcept { std::free(p); }
void operator delete(void* p, std::align_val_t) noexcept { std::free(p); }
void operator delete[](void* p, std::align_val_t) noexcept { std::free(p); }
void operator delete(void* p, std::size_t, std::align_val_t) noexcept { std::free(p); }
void operator delete[](void* p, std::size_t, std::align_val_t) noexcept { std::free(p); }
void operator delete(void* p, std::align_val_t, const std::nothrow_t&) noexcept { std::free(p); }
void operator delete[](void* p, std::align_val_t, const std::nothrow_t&) noexcept { std::free(p); }
// NOLINTEND(misc-new-delete-overloads)
