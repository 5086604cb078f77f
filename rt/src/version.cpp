#include "rt/version.hpp"

namespace rt {

const char* version() noexcept { return RT_VERSION; }

const char* build_info() noexcept { return RT_BUILD_INFO; }

}  // namespace rt
