#pragma once
// quoted(): a name in single quotes, as validation errors and setup exceptions print it.
// Shared by the setup halves of graphs and sagas. Not RT: allocates.
#include <string>
#include <string_view>

namespace rt::detail {

inline std::string quoted(std::string_view s) {
  std::string q;
  q.reserve(s.size() + 2);
  q += '\'';
  q += s;
  q += '\'';
  return q;
}

}  // namespace rt::detail
