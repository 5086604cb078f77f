#include "rtbench/runner.hpp"

#include <algorithm>
#include <exception>

#include "hal/clock.hpp"

namespace rt::bench {

const ContenderRun* GroupRun::find(const std::string& contender_id) const noexcept {
  for (const auto& c : contenders)
    if (c.id == contender_id) return &c;
  return nullptr;
}

int reps_for(const Group& g, int reps) noexcept { return std::max({1, g.min_reps, reps}); }

ns_t estimate(const std::vector<Group>& groups, const Settings& s, int reps) {
  ns_t total = 0;
  for (const auto& g : groups)
    if (g.rep_time) total += g.rep_time(s) * reps_for(g, reps);
  return total;
}

GroupRun run_group(const Group& g, const Settings& s, int reps, const std::function<void(const Progress&)>& progress,
                   ns_t total, ns_t already, const std::atomic<int>* cancel) {
  GroupRun run;
  run.id = g.id;
  run.title = g.title;
  run.ratios = g.ratios;
  run.checks = g.checks;
  run.notes = g.notes;
  run.reps = reps_for(g, reps);
  const ns_t start = hal::now_ns();
  std::vector<std::size_t> live;  // indexes of the contenders that can run
  for (std::size_t i = 0; i < g.contenders.size(); ++i) {
    const Contender& c = g.contenders[i];
    ContenderRun cr{c.id, c.label, c.kind, {}, {}};
    if (c.unavailable) cr.skipped = c.unavailable(s);
    if (cr.skipped.empty() && !c.block) cr.skipped = "no measurement";
    if (cr.skipped.empty()) live.push_back(i);
    run.contenders.push_back(std::move(cr));
  }
  for (int r = 0; r < run.reps; ++r) {
    for (std::size_t k = 0; k < live.size(); ++k) {
      if (cancel != nullptr && cancel->load(std::memory_order_relaxed)) {
        run.interrupted = true;
        run.elapsed = hal::now_ns() - start;
        return run;
      }
      const std::size_t i = live[r % 2 == 0 ? k : live.size() - 1 - k];
      if (progress) {
        const ns_t spent = already + (hal::now_ns() - start);
        progress({g.id, g.contenders[i].label, r + 1, run.reps, std::max<ns_t>(0, total - spent)});
      }
      Block b;
      try {
        b = g.contenders[i].block(s);
      } catch (const std::exception& e) {
        b = Block{};
        b.error = e.what();
      }
      run.contenders[i].blocks.push_back(std::move(b));
    }
  }
  run.elapsed = hal::now_ns() - start;
  return run;
}

}  // namespace rt::bench
