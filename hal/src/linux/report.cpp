#include "hal/report.hpp"

#include <atomic>
#include <cstdio>
#include <mutex>
#include <set>
#include <string>

namespace hal {

namespace {

void stderr_sink(std::string_view line) {
  std::fprintf(stderr, "rtengine: %.*s\n", static_cast<int>(line.size()), line.data());
}

std::atomic<ReportSink> g_sink{&stderr_sink};

struct Seen {
  std::mutex mu;  // setup-phase only: threads starting concurrently may report together
  std::set<std::string, std::less<>> keys;
};

Seen& seen() {
  static Seen s;
  return s;
}

}  // namespace

ReportSink set_report_sink(ReportSink sink) noexcept { return g_sink.exchange(sink != nullptr ? sink : &stderr_sink); }

bool report_once(std::string_view key, std::string_view message) {
  {
    Seen& s = seen();
    std::lock_guard lock(s.mu);
    if (!s.keys.emplace(key).second) return false;
  }
  g_sink.load()(message);
  return true;
}

void reset_reports() {
  Seen& s = seen();
  std::lock_guard lock(s.mu);
  s.keys.clear();
}

}  // namespace hal
