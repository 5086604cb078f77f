#include "hal/status.hpp"

#include <cstring>

namespace hal {

std::string Status::message() const {
  if (ok()) return "ok";
  std::string out = (op != nullptr && *op != '\0') ? op : "call";
  out += ": ";
  out += strerrordesc_np(err) != nullptr ? strerrordesc_np(err) : "unknown error";
  if (const char* name = strerrorname_np(err)) {
    out += " (";
    out += name;
    out += ')';
  }
  return out;
}

}  // namespace hal
