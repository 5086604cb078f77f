#pragma once
// The environment knobs every benchmark program shares (each program's header comment
// lists the ones it reads).
#include <algorithm>
#include <cstdlib>
#include <string>

namespace bench_support {

inline int env_int(const char* name, int fallback) {
  const char* v = std::getenv(name);
  return v != nullptr && *v != '\0' ? std::atoi(v) : fallback;
}
inline int prio() { return env_int("RT_BENCH_PRIO", 80); }
inline int producer_cpu() { return env_int("RT_BENCH_CPU_PRODUCER", 0); }
inline int worker_cpu() { return env_int("RT_BENCH_CPU_WORKER", 1); }
// For table titles: "SCHED_FIFO 80", or "SCHED_OTHER" for priority 0.
inline std::string policy(int priority) {
  return priority > 0 ? "SCHED_FIFO " + std::to_string(priority) : std::string("SCHED_OTHER");
}

// How many pairs of adjacent blocks a paired comparison takes (support/paired.hpp).
// RT_BENCH_REPS is its older name (CI's smoke run sets it), read when RT_BENCH_PAIRS is not.
inline int pairs(int fallback) { return std::max(1, env_int("RT_BENCH_PAIRS", env_int("RT_BENCH_REPS", fallback))); }

}  // namespace bench_support
