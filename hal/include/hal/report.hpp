#pragma once
// One place where the HAL tells a person that the process runs degraded (no SCHED_FIFO,
// no mlock, no io_uring...). Each distinct problem is said once per process: a worker
// pool of 16 threads refused SCHED_FIFO is one line, not 16.
#include <string_view>

namespace hal {

using ReportSink = void (*)(std::string_view line);

// Setup only. Replaces where report lines go (default: stderr, prefixed "rtengine: ").
// Returns the previous sink so tests can restore it.
ReportSink set_report_sink(ReportSink sink) noexcept;

// Setup only: may allocate. Sends `message` to the sink the first time `key` is seen.
// Returns true if it was sent.
bool report_once(std::string_view key, std::string_view message);

// Setup only. Forgets which keys were reported (tests).
void reset_reports();

}  // namespace hal
