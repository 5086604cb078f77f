#pragma once
// Annotations that let the compiler and RealtimeSanitizer check run-path guarantees.
// Every run-path declaration also carries a one-line "// RT: ..." comment; this macro is
// what makes that comment checkable under the `rtsan` preset (clang >= 20 understands
// the function-effect attributes; -Wfunction-effects checks them at compile time and
// -fsanitize=realtime aborts at run time on malloc, locks and blocking syscalls).
#include <cstddef>

#if defined(__clang__) && __clang_major__ >= 20
#define HAL_NONBLOCKING [[clang::nonblocking]]
#define HAL_BLOCKING [[clang::blocking]]
#else
#define HAL_NONBLOCKING
#define HAL_BLOCKING
#endif

namespace hal {
// 64 bytes on x86_64 and on the Cortex-A cores we target. Not
// std::hardware_destructive_interference_size: GCC warns that it may differ between
// translation units built with other -mtune, and it is part of our types' layout.
inline constexpr std::size_t kCacheLine = 64;
}  // namespace hal
