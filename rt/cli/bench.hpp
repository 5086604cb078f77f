#pragma once
// `rtengine bench` (F27): the engine next to cyclictest, oslat, a mutex pool and a raw
// queue on this machine, SPEC's P-targets judged in one run.
#include <iosfwd>
#include <string>
#include <vector>

#include "rtbench/measure.hpp"

namespace rt::cli {

struct BenchOptions {
  bench::Settings settings;
  ns_t duration = 5'000'000'000;  // per release-latency contender, over its repetitions
  int reps = 0;                   // 0: each group's own (>= 5)
  std::vector<std::string> only;  // "P1", "P2"...; empty: all
  std::string out_dir;            // every artefact here; empty: the table only
  bool json = false;              // the JSON on `out` instead of the table
  bool strict = false;            // exit 1 when a target is not met
  std::string load;               // "stress-ng": the whole bench under load
  std::string gnuplot = "gnuplot";
  bool live = false;           // a progress line rewritten in place (stderr is a terminal)
  bool rt_unthrottle = false;  // sched_rt_runtime_us = -1 for the run, put back at its end
};

// Every group in P-order, or those `only` names; an unknown name is an error naming it.
std::vector<bench::Group> select_groups(const bench::Settings& s, const std::vector<std::string>& only,
                                        std::string& error);

int bench_command(BenchOptions opts, std::ostream& out, std::ostream& err);

}  // namespace rt::cli
