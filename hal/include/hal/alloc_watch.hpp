#pragma once
// P6 in production: heap allocations made on the engine's RT threads (workers, the
// monitor) after they started. The engine's threads mark themselves; a counting allocator
// (rt/http/src/alloc_count.cpp, linked into the `rtengine` executable only, so a library
// user keeps their own operator new) reports every allocation, and the ones made on a
// marked thread are counted. Without that allocator nothing reports, and
// allocation_counting() says the count means nothing.
#include <cstdint>

#include "hal/annotations.hpp"

namespace hal {

// The calling thread is one of the engine's RT threads until it exits (a thread_local
// flag: a thread that ends takes its mark with it).
// RT: wait-free; no allocation, no syscall.
void mark_rt_thread() noexcept HAL_NONBLOCKING;
// RT: wait-free; no allocation, no syscall.
[[nodiscard]] bool is_rt_thread() noexcept HAL_NONBLOCKING;

// Called by a counting allocator for every allocation, on the allocating thread: counted
// when that thread is marked. Must not allocate (it runs inside operator new).
// RT: wait-free; a thread_local read and at most one relaxed atomic add.
void note_allocation() noexcept HAL_NONBLOCKING;

// Allocations noted on marked threads since the process started (all engines).
// RT: wait-free; one relaxed load.
[[nodiscard]] std::uint64_t rt_thread_allocations() noexcept HAL_NONBLOCKING;

// A counting allocator says it is linked in (from a static initializer): until then
// rt_thread_allocations() is 0 because nothing counts, not because nothing allocated.
// RT: wait-free; one relaxed store / load.
void set_allocation_counting() noexcept;
[[nodiscard]] bool allocation_counting() noexcept;

}  // namespace hal
