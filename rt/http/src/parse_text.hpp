#pragma once
// Shared by the query and JSON parsers (parse.cpp, parse_json.cpp): how a message echoes
// what a client sent. Everything echoed is clipped and made valid UTF-8, because the API
// sends FieldErrors inside JSON answers and a client's bytes may be anything.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <string>
#include <string_view>

#include "rtconfig/config.hpp"
#include "rthttp/parse.hpp"

namespace rt::http::detail {

// Long enough for any name the engine uses; a client's typo needs no more context.
inline constexpr std::size_t kEchoBytes = 40;

// The first `max` bytes of `s`, not cutting a UTF-8 sequence in two.
[[nodiscard]] std::string_view clip(std::string_view s, std::size_t max);
// `s` with quotes and control characters escaped and invalid UTF-8 replaced by U+FFFD.
[[nodiscard]] std::string escape(std::string_view s);
// A client's text echoed in a message: quoted, escaped and clipped ("abc", "abc"...).
[[nodiscard]] std::string quote(std::string_view s);
// A client's key as a FieldError::field: escaped and clipped.
[[nodiscard]] std::string field_name(std::string_view s);
// "a, b or c".
[[nodiscard]] std::string one_of(std::initializer_list<std::string_view> names);
// 0..15, or -1 when `c` is not a hex digit.
[[nodiscard]] int hex_digit(char c);
// Whole decimal numbers 0..2^64-1 only: no sign, spaces or "0x".
[[nodiscard]] bool decimal(std::string_view s, std::uint64_t& out);

// " (did you mean \"x\"?)" when `word` is a typo of one of `known`, as the config loader
// decides it: at most 2 edits and fewer than half the letters.
template <class Range>
[[nodiscard]] std::string did_you_mean(std::string_view word, const Range& known) {
  std::string_view best;
  std::size_t best_d = 99;
  for (std::string_view k : known) {
    if (const std::size_t d = config::edit_distance(word, k); d < best_d) {
      best_d = d;
      best = k;
    }
  }
  const std::size_t letters = std::max(word.size(), best.size());
  if (best_d > 2 || 2 * best_d >= letters) return {};
  return " (did you mean " + quote(best) + "?)";
}

// "unknown field (expected a, b or c)", with a did-you-mean; the field is `key`.
[[nodiscard]] FieldError unknown(std::string_view what, std::string_view key,
                                 std::initializer_list<std::string_view> known);

}  // namespace rt::http::detail
