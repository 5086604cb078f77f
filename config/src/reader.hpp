#pragma once
// Typed, located reads from a toml++ tree. Each getter leaves `out` at its default when the
// key is absent, and records a Diagnostic naming file:line:column, the key, what was
// expected and what was found when the value is there but wrong; it never throws.
#include <toml++/toml.h>

#include <cstdint>
#include <initializer_list>
#include <string>
#include <string_view>
#include <vector>

#include "rtconfig/config.hpp"

namespace rt::config::detail {

class Reader {
 public:
  Reader(std::string file, std::vector<Diagnostic>& errors) : file_(std::move(file)), errors_(errors) {}

  void error(const toml::source_region& at, std::string key, std::string message);
  void error(const toml::node& at, std::string key, std::string message) {
    error(at.source(), std::move(key), std::move(message));
  }

  // Every key of `t` not in `known` is an error at the key, with a "did you mean".
  void only(const toml::table& t, const std::string& path, std::initializer_list<std::string_view> known);

  // A table (or nullptr when absent: no error); another type is an error.
  const toml::table* table(const toml::table& t, std::string_view key, const std::string& path);
  // An array of tables ([[name]]); each element that is not a table is an error.
  std::vector<const toml::table*> tables(const toml::table& t, std::string_view key, const std::string& path);

  bool boolean(const toml::table& t, std::string_view key, const std::string& path, bool& out);
  bool integer(const toml::table& t, std::string_view key, const std::string& path, std::int64_t lo, std::int64_t hi,
               std::int64_t& out);
  template <class T>
  bool integer_as(const toml::table& t, std::string_view key, const std::string& path, std::int64_t lo, std::int64_t hi,
                  T& out) {
    std::int64_t v = static_cast<std::int64_t>(out);
    if (!integer(t, key, path, lo, hi, v)) return false;
    out = static_cast<T>(v);
    return true;
  }
  bool number(const toml::table& t, std::string_view key, const std::string& path, double lo, double hi, double& out);
  bool string(const toml::table& t, std::string_view key, const std::string& path, std::string& out);
  // A non-empty name: letters, digits, '_', '-', '.'; at most 64 bytes.
  bool name(const toml::table& t, std::string_view key, const std::string& path, std::string& out);
  // "250us", "1ms", "2.5s", "100ns", "0": within [lo, hi].
  bool duration(const toml::table& t, std::string_view key, const std::string& path, ns_t lo, ns_t hi, ns_t& out);
  // One of `choices` (case-sensitive); returns its index in `idx`.
  bool choice(const toml::table& t, std::string_view key, const std::string& path,
              std::initializer_list<std::string_view> choices, int& idx);
  bool strings(const toml::table& t, std::string_view key, const std::string& path, std::vector<std::string>& out);

  // Where a key's value is, for messages raised after reading it.
  static toml::source_region where(const toml::table& t, std::string_view key);

  [[nodiscard]] const std::string& file() const noexcept { return file_; }

 private:
  const toml::node* get(const toml::table& t, std::string_view key) { return t.get(key); }
  std::string file_;
  std::vector<Diagnostic>& errors_;
};

// "a string", "an integer"...: what a node is, for "found ...".
[[nodiscard]] std::string describe(const toml::node& n);
[[nodiscard]] std::string join(const std::string& path, std::string_view key);
[[nodiscard]] std::string indexed(const std::string& path, std::size_t i);
// The closest of `known` to `word` when it is close enough to be a likely typo.
[[nodiscard]] std::string closest(std::string_view word, std::initializer_list<std::string_view> known);
[[nodiscard]] std::string closest(std::string_view word, const std::vector<std::string>& known);
// Parses "250us"-style text; false when it is not a duration.
[[nodiscard]] std::size_t edit_distance_impl(std::string_view a, std::string_view b);
[[nodiscard]] std::string format_duration(ns_t v);

}  // namespace rt::config::detail
