#pragma once
// Asymmetric fences (membarrier(2)): a hot side that pays only a compiler barrier and a
// rare side that pays a syscall making every thread of the process pass a full barrier.
// The engine's submit path is the hot side of its handshake with stop(): one locked
// instruction fewer per submission. Where the kernel lacks the command (before 4.14, or
// an emulator that does not pass it through), enable() says so and callers keep their
// seq_cst handshake.
#include <atomic>

#include "hal/status.hpp"

namespace hal {

// Setup only: registers the process for MEMBARRIER_CMD_PRIVATE_EXPEDITED. Ok when
// heavy_fence() may be relied on from now on.
Status enable_asymmetric_fence() noexcept;

// The hot side. RT: wait-free; no instruction (orders only the compiler).
inline void light_fence() noexcept { std::atomic_signal_fence(std::memory_order_seq_cst); }

// The rare side: returns once every running thread of the process has passed a full
// memory barrier. Setup only: one syscall (IPIs to the CPUs running our threads).
Status heavy_fence() noexcept;

}  // namespace hal
