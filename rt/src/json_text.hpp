#pragma once
// Writing JSON by hand for the logger and the trace exporter: the engine library takes no
// JSON dependency for two flat formats. Not RT: these append to std::string.
#include <cstdint>
#include <cstdio>
#include <ctime>
#include <string>
#include <string_view>

#include "hal/clock.hpp"

namespace rt::detail {

// `s` as a JSON string, quotes included (RFC 8259 section 7: quote, backslash and the
// control characters must be escaped; the rest of UTF-8 passes through).
inline void append_json_string(std::string& out, std::string_view s) {
  out += '"';
  for (const char c : s) {
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      default:
        if (static_cast<unsigned char>(c) < 0x20) {
          char esc[8];
          std::snprintf(esc, sizeof esc, "\\u%04x", static_cast<unsigned>(static_cast<unsigned char>(c)));
          out += esc;
        } else {
          out += c;
        }
    }
  }
  out += '"';
}

inline void append_int(std::string& out, std::int64_t v) { out += std::to_string(v); }

// Nanoseconds as microseconds with three decimals: exact, and what Chrome's trace format
// and the log's *_us fields expect.
inline void append_us(std::string& out, std::int64_t ns) {
  char buf[32];
  const bool neg = ns < 0;
  const auto mag = static_cast<std::uint64_t>(neg ? -ns : ns);
  std::snprintf(buf, sizeof buf, "%s%llu.%03llu", neg ? "-" : "", static_cast<unsigned long long>(mag / 1000),
                static_cast<unsigned long long>(mag % 1000));
  out += buf;
}

// CLOCK_REALTIME - CLOCK_MONOTONIC now: monotonic times plus this are wall times. Taken
// once, so a wall-clock step (NTP, settimeofday) during a run does not reorder the log.
inline std::int64_t wall_offset_ns() noexcept {
  timespec mono{}, real{};
  clock_gettime(CLOCK_MONOTONIC, &mono);
  clock_gettime(CLOCK_REALTIME, &real);
  return (static_cast<std::int64_t>(real.tv_sec) - mono.tv_sec) * hal::kNsPerSec + (real.tv_nsec - mono.tv_nsec);
}

// ISO-8601 UTC with microseconds, quoted: "2026-11-26T05:33:11.123456Z".
inline void append_wall(std::string& out, std::int64_t wall_ns) {
  const std::time_t secs = static_cast<std::time_t>(wall_ns / hal::kNsPerSec);
  const auto us = static_cast<long>((wall_ns % hal::kNsPerSec) / 1000);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[48];
  std::snprintf(buf, sizeof buf, "\"%04d-%02d-%02dT%02d:%02d:%02d.%06ldZ\"", tm.tm_year + 1900, tm.tm_mon + 1,
                tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, us);
  out += buf;
}

}  // namespace rt::detail
