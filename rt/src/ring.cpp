#include "ring.hpp"

#include <stdexcept>
#include <string>

namespace rt::detail {

void throw_ring_exhausted(const char* what) {
  throw std::length_error(std::string("engine arena exhausted by ") + what + "; raise EngineConfig::arena_bytes");
}

}  // namespace rt::detail
