#include "rtbench/runner.hpp"

#include <algorithm>
#include <exception>
#include <stdexcept>
#include <string>
#include <vector>

#include "hal/clock.hpp"

namespace rt::bench {

const ContenderRun* GroupRun::find(const std::string& contender_id) const noexcept {
  for (const auto& c : contenders)
    if (c.id == contender_id) return &c;
  return nullptr;
}

int reps_for(const Group& g, int reps) noexcept { return std::max({1, g.min_reps, reps}); }

int release_repetitions(ns_t duration, ns_t period, int reps) noexcept {
  if (reps > 0) return reps;
  const ns_t per_block = 1000 * std::max<ns_t>(period, 1);
  return static_cast<int>(std::clamp<ns_t>(duration / per_block, 5, 100'000));
}

ns_t estimate(const std::vector<Group>& groups, const Settings& s, int reps) {
  ns_t total = 0;
  for (const auto& g : groups)
    if (g.rep_time) total += g.rep_time(s) * reps_for(g, reps);
  return total;
}

namespace {

// What one step of a repetition measures: one contender alone, or a joint's contenders
// together (indexes into Group::contenders).
struct Unit {
  std::vector<std::size_t> members;
  const Joint* joint = nullptr;
};

// The live contenders as units: a joint whose contenders can all run is one unit, in the
// place of whichever of them comes first in the group's list; otherwise each live
// contender is its own.
std::vector<Unit> units_of(const Group& g, const std::vector<bool>& live) {
  auto index_of = [&g](const std::string& id) {
    for (std::size_t i = 0; i < g.contenders.size(); ++i)
      if (g.contenders[i].id == id) return i;
    return g.contenders.size();
  };
  std::vector<const Joint*> joint_of(g.contenders.size(), nullptr);
  for (const Joint& j : g.joints) {
    // Usable when every contender it names exists, can run, is named once and belongs to
    // no earlier joint: a contender measured twice in a repetition would pair its blocks
    // with the wrong repetitions of the others.
    bool whole = j.block && !j.ids.empty();
    std::vector<bool> seen(g.contenders.size(), false);
    for (const std::string& id : j.ids) {
      const std::size_t i = index_of(id);
      whole = whole && i < live.size() && live[i] && !seen[i] && joint_of[i] == nullptr;
      if (i < seen.size()) seen[i] = true;
    }
    if (whole)
      for (const std::string& id : j.ids)
        joint_of[index_of(id)] = &j;
  }
  std::vector<Unit> units;
  for (std::size_t i = 0; i < g.contenders.size(); ++i) {
    if (!live[i]) continue;
    if (joint_of[i] == nullptr) {
      units.push_back({{i}, nullptr});
    } else if (std::none_of(units.begin(), units.end(), [&](const Unit& u) { return u.joint == joint_of[i]; })) {
      Unit u{{}, joint_of[i]};
      for (const std::string& id : joint_of[i]->ids)
        u.members.push_back(index_of(id));
      units.push_back(std::move(u));
    }
  }
  return units;
}

// One block of a unit, one Block per member; an exception is every member's error.
std::vector<Block> measure(const Group& g, const Unit& u, const Settings& s) {
  std::vector<Block> out;
  try {
    if (u.joint == nullptr) {
      out.push_back(g.contenders[u.members.front()].block(s));
    } else {
      out = u.joint->block(s);
      if (out.size() != u.members.size())
        throw std::logic_error("a joint block measured " + std::to_string(out.size()) + " contenders of " +
                               std::to_string(u.members.size()));
    }
  } catch (const std::exception& e) {
    out.assign(u.members.size(), Block{});
    for (Block& b : out)
      b.error = e.what();
  }
  return out;
}

}  // namespace

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
  std::vector<bool> live;  // by contender: can run
  for (const Contender& c : g.contenders) {
    ContenderRun cr{c.id, c.label, c.kind, {}, {}};
    if (c.unavailable) cr.skipped = c.unavailable(s);
    if (cr.skipped.empty() && !c.block) cr.skipped = "no measurement";
    live.push_back(cr.skipped.empty());
    run.contenders.push_back(std::move(cr));
  }
  const std::vector<Unit> units = units_of(g, live);
  for (int r = 0; r < run.reps; ++r) {
    for (std::size_t k = 0; k < units.size(); ++k) {
      if (cancel != nullptr && cancel->load(std::memory_order_relaxed)) {
        run.interrupted = true;
        run.elapsed = hal::now_ns() - start;
        return run;
      }
      const Unit& u = units[r % 2 == 0 ? k : units.size() - 1 - k];
      if (progress) {
        std::string label;
        for (const std::size_t i : u.members)
          label += (label.empty() ? "" : " + ") + g.contenders[i].label;
        const ns_t spent = already + (hal::now_ns() - start);
        progress({g.id, label, r + 1, run.reps, std::max<ns_t>(0, total - spent)});
      }
      std::vector<Block> blocks = measure(g, u, s);
      for (std::size_t m = 0; m < u.members.size(); ++m)
        run.contenders[u.members[m]].blocks.push_back(std::move(blocks[m]));
    }
  }
  run.elapsed = hal::now_ns() - start;
  return run;
}

}  // namespace rt::bench
