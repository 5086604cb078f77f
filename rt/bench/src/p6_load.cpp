// P6: the sleep-mode loop's release latency on an idle machine and under stress-ng --vm
// (page faults and memory traffic on every CPU, started before and stopped after each
// loaded block by the bench), and what the RT threads did after start: heap allocations
// (counted by the rtengine binary's counting allocator) and minor page faults (the
// workers' own counters), both of which must be 0.
#include <unistd.h>

#include <string>

#include "hal/clock.hpp"
#include "release.hpp"
#include "rtbench/tools.hpp"

namespace rt::bench {

namespace {

// Time stress-ng gets to start its workers and fault its memory in before the loop runs.
constexpr ns_t kSettle = 500 * hal::kNsPerMs;

StressSpec load_spec(const Settings& s) {
  StressSpec spec;
  spec.program = s.stress_ng;
  spec.vm_workers = 2;  // one per CPU of the 2-CPU machines we target first; the loop preempts its own
  spec.vm_bytes = "128M";
  // Every CPU, the measured one included: the child would inherit the bench thread's
  // pinning to the side CPU and leave the loop's CPU unloaded.
  for (int c = 0; c < static_cast<int>(sysconf(_SC_NPROCESSORS_ONLN)); ++c)
    spec.cpus.push_back(c);
  // A load for the whole bench (--load) runs at most an hour, a P6 block far less.
  spec.timeout_s = 3600;
  return spec;
}

Block loaded_block(const Settings& s) {
  Background load;
  if (std::string why = load.start(stress_args(load_spec(s)), kSettle); !why.empty()) {
    Block b;
    b.error = "stress-ng: " + why;
    return b;
  }
  Block b = engine_release_block(s, {.precision = Precision::Sleep, .count_rt_costs = true});
  load.stop();
  return b;
}

}  // namespace

std::vector<std::string> load_args(const Settings& s) { return stress_args(load_spec(s)); }

std::string describe_load(const Settings& s) {
  std::string out;
  for (const auto& a : stress_args(load_spec(s)))
    out += (out.empty() ? "" : " ") + a;
  return out;
}

Group p6_load(const Settings& s) {
  Group g;
  g.id = "P6";
  g.title = "Release latency under load, and the RT threads' allocations and page faults after start";
  g.contenders = {
      {"engine_idle",
       "engine sleep, idle machine",
       Kind::Latency,
       [](const Settings& st) {
         return engine_release_block(st, {.precision = Precision::Sleep, .count_rt_costs = true});
       },
       {}},
      {"engine_loaded", "engine sleep, under stress-ng --vm", Kind::Latency, loaded_block,
       [](const Settings& st) { return program_unavailable(st.stress_ng, "stress-ng"); }},
  };
  g.ratios = {{"engine_loaded", "engine_idle", Stat::P999, 1.2, false, "SPEC P6"},
              {"engine_loaded", "engine_idle", Stat::P99, 0, false, ""}};
  for (const char* id : {"engine_idle", "engine_loaded"}) {
    g.checks.push_back(
        {id, Stat::Value, "rt_allocations", true, 0, "heap allocations on RT threads after start", "SPEC P6"});
    g.checks.push_back(
        {id, Stat::Value, "rt_page_faults", true, 0, "minor page faults of RT workers after start", "SPEC P6"});
  }
  g.min_reps = 5;
  g.splits_duration = true;
  g.rep_time = [](const Settings& st) { return 2 * (st.block + 50 * hal::kNsPerMs) + kSettle + hal::kNsPerSec / 4; };
  g.notes = {"the load: " + describe_load(s) + ", started before each loaded block and stopped after it",
             "allocations are counted by the rtengine binary's counting operator new (absent in sanitizer builds "
             "and library use); page faults are the workers' own (/proc/self/task/TID/stat) from the first release "
             "to the last"};
  return g;
}

}  // namespace rt::bench
