#include "support/conditions.hpp"

#include <string>
#include <utility>
#include <vector>

#include "hal/memory.hpp"
#include "hal/report.hpp"

namespace bench_support {

namespace {

struct Noted {
  int locked = -1;                                   // -1: not asked
  std::vector<std::pair<std::string, bool>> pm_qos;  // in the order first seen
};
Noted& noted() {
  static Noted n;
  return n;
}

}  // namespace

bool lock_process_memory() {
  const hal::LockOutcome o = hal::lock_memory_or_report();
  noted().locked = o.locked ? 1 : 0;
  return o.locked;
}

PmQosHold::PmQosHold(std::string_view contender, bool wanted, std::int32_t latency_us) {
  if (wanted) {
    if (const hal::Status st = request_.request(latency_us); !st.ok()) {
      hal::report_once("bench-pm_qos:" + st.message(), "bench: a baseline cannot hold /dev/cpu_dma_latency (" +
                                                           st.message() +
                                                           "); the engine cannot either, so both run without it.");
    }
  }
  note_pm_qos(contender, request_.active());
}

void note_pm_qos(std::string_view contender, bool held) {
  for (const auto& [name, h] : noted().pm_qos) {
    if (name == contender) return;
  }
  noted().pm_qos.emplace_back(std::string(contender), held);
}

void print_conditions(std::FILE* out) {
  const Noted& n = noted();
  std::fprintf(out, "\nConditions (like with like: defaults against defaults)\n");
  if (n.locked >= 0)
    std::fprintf(out, "  memory: %s\n",
                 n.locked == 1 ? "mlockall for the whole process before any block (engine lock_memory, cyclictest -m)"
                               : "NOT locked (mlockall refused; see the report above)");
  if (n.pm_qos.empty()) return;
  std::string held, not_held;
  for (const auto& [name, h] : n.pm_qos)
    (h ? held : not_held) += (h ? held : not_held).empty() ? name : ", " + name;
  if (!held.empty()) std::fprintf(out, "  PM QoS (/dev/cpu_dma_latency) held in the blocks of: %s\n", held.c_str());
  if (!not_held.empty()) std::fprintf(out, "  PM QoS NOT held in the blocks of: %s\n", not_held.c_str());
  if (!held.empty() && !not_held.empty())
    std::fprintf(out, "  WARNING: contenders differ in PM QoS: their ratios compare unlike conditions\n");
}

}  // namespace bench_support
