#pragma once
// Reading the output of the programs rtengine bench runs (tools.hpp). Setup only.
#include <string>
#include <string_view>

namespace rt::bench::detail {

// Calls fn(line) for each line of `text`, without its '\n' (or "\r\n").
template <class Fn>
void for_each_line(std::string_view text, Fn&& fn) {
  while (!text.empty()) {
    const auto nl = text.find('\n');
    std::string_view line = text.substr(0, nl);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    fn(line);
    if (nl == std::string_view::npos) break;
    text.remove_prefix(nl + 1);
  }
}

// The line of a program's output that says why it failed, trimmed to at most 200
// characters: the first that reads like an error ("ERROR: TEST(set_fifo_prio...)",
// "Unable to change scheduling policy!", "Illegal bucket size"), else the first warning
// ("libnuma: Warning: cpu argument 7 is out of range", which cyclictest follows with its
// whole usage text), else the last non-empty line. Empty for an empty output.
std::string telling_line(std::string_view output);

}  // namespace rt::bench::detail
