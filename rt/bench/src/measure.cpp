#include "rtbench/measure.hpp"

#include "hal/cpu.hpp"
#include "hal/report.hpp"

namespace rt::bench {

HistogramSnapshot snapshot_of(const std::vector<ns_t>& samples) {
  Histogram h;
  for (const ns_t v : samples)
    h.record_local(v);
  return h.snapshot();
}

}  // namespace rt::bench

namespace rt::bench {

PmQosHold::PmQosHold(const Settings& s) {
  if (!wants_pm_qos(s)) return;
  if (const hal::Status st = request_.request(0); !st.ok())
    hal::report_once("bench-pm_qos", "rtengine bench: cannot hold /dev/cpu_dma_latency (" + st.message() +
                                         "); the baselines run without it, as the engine does");
}

}  // namespace rt::bench
