#pragma once
// What was built: the version, and the build-time choices a bug report needs.

namespace rt {

[[nodiscard]] const char* version() noexcept;     // "0.1.0"
[[nodiscard]] const char* build_info() noexcept;  // "x86_64, GCC 12.2.0, RelWithDebInfo, io_uring on"

}  // namespace rt
