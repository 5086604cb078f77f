// `rtengine bench` as a person runs it: bad options are usage errors naming the problem;
// a short real run writes every artefact, and its JSON holds what its table says.
#include "bench.hpp"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "cli.hpp"
#include "cli_run.hpp"

namespace {

using testing_support::CliRun;
using testing_support::has;
CliRun run(const std::vector<std::string>& args) { return testing_support::run_cli(args); }

TEST(CliBench, HelpNamesTheOptions) {
  const CliRun r = run({"bench", "--help"});
  EXPECT_EQ(r.code, 0);
  for (const char* o : {"--duration", "--period", "--cpu", "--priority", "--only", "--out", "--json", "--load"})
    EXPECT_TRUE(has(r.out, o)) << o << "\n" << r.out;
}

TEST(CliBench, BadOptionsAreUsageErrorsNamingTheProblem) {
  struct Case {
    std::vector<std::string> args;
    const char* says;
  };
  for (const Case& c :
       {Case{{"bench", "--only", "P1,P9"}, "unknown target \"P9\""}, Case{{"bench", "--cpu", "4096"}, "--cpu 4096"},
        Case{{"bench", "--period", "fast"}, "--period"}, Case{{"bench", "--period", "1us"}, "from 10us to 1s"},
        Case{{"bench", "--period", "10500ns"}, "whole microseconds"}, Case{{"bench", "--duration", "0s"}, "--duration"},
        Case{{"bench", "--priority", "120"}, "--priority"}, Case{{"bench", "--load", "yes"}, "--load"}}) {
    const CliRun r = run(c.args);
    EXPECT_EQ(r.code, rt::cli::kExitUsage) << c.args.back();
    EXPECT_TRUE(has(r.err, c.says)) << r.err;
  }
}

// Checked before minutes of measuring, not after.
TEST(CliBench, AnUnwritableOutFolderFailsAtOnce) {
  const CliRun r = run({"bench", "--only", "P2", "--out", "/proc/rtengine-bench"});
  EXPECT_EQ(r.code, rt::cli::kExitFailed);
  EXPECT_TRUE(has(r.err, "cannot write there")) << r.err;
  EXPECT_FALSE(has(r.out, "P2  Submit")) << "nothing ran";
}

TEST(CliBench, SelectGroupsKeepsPOrderAndIgnoresCase) {
  std::string error;
  const auto groups = rt::cli::select_groups({}, {"p7", "P2"}, error);
  EXPECT_TRUE(error.empty()) << error;
  ASSERT_EQ(groups.size(), 2U);
  EXPECT_EQ(groups[0].id, "P2");
  EXPECT_EQ(groups[1].id, "P7");
  EXPECT_EQ(rt::cli::select_groups({}, {}, error).size(), 7U);
}

// Every group names its contenders consistently: a ratio or check on an id that does
// not exist would be reported as skipped forever.
TEST(CliBench, EveryRatioAndCheckNamesAContenderOfItsGroup) {
  std::string error;
  for (const auto& g : rt::cli::select_groups({}, {}, error)) {
    EXPECT_FALSE(g.contenders.empty()) << g.id;
    auto known = [&g](const std::string& id) {
      for (const auto& c : g.contenders)
        if (c.id == id) return true;
      return false;
    };
    for (const auto& r : g.ratios) {
      EXPECT_TRUE(known(r.contender)) << g.id << ": " << r.contender;
      EXPECT_TRUE(known(r.baseline)) << g.id << ": " << r.baseline;
    }
    for (const auto& k : g.checks)
      EXPECT_TRUE(known(k.contender)) << g.id << ": " << k.contender;
    for (std::size_t i = 0; i < g.contenders.size(); ++i)
      for (std::size_t j = i + 1; j < g.contenders.size(); ++j)
        EXPECT_NE(g.contenders[i].id, g.contenders[j].id) << g.id;
  }
}

// A real run, small and unprivileged-friendly (priority 0): the handoff group writes its
// table, JSON and histogram CSV; the JSON's verdicts are the table's.
TEST(CliBench, AShortRunWritesEveryArtefact) {
  const auto dir = std::filesystem::temp_directory_path() / ("rtengine-bench-" + std::to_string(::getpid()));
  std::filesystem::remove_all(dir);
  const CliRun r =
      run({"bench", "--only", "P2", "--priority", "0", "--reps", "2", "--samples", "20", "--period", "500us", "--out",
           dir.string(), "--cpu", std::to_string(std::min(1L, sysconf(_SC_NPROCESSORS_ONLN) - 1))});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_TRUE(has(r.out, "P2  Submit -> start latency")) << r.out;
  EXPECT_TRUE(has(r.err, "--reps 2") || has(r.out, "--reps 2")) << "fewer than 5 repetitions is flagged";
  EXPECT_TRUE(has(r.out, "period 500 us")) << "the settings used, not the defaults";
  for (const char* f : {"report.txt", "bench.json", "p2_histogram.csv"})
    EXPECT_TRUE(std::filesystem::exists(dir / f)) << f;
  std::ifstream in(dir / "bench.json");
  const nlohmann::json j = nlohmann::json::parse(in);
  ASSERT_EQ(j["groups"].size(), 1U);
  const auto& g = j["groups"][0];
  EXPECT_EQ(g["id"], "P2");
  EXPECT_EQ(g["reps"], 2);
  EXPECT_EQ(j["settings"]["period_ns"], 500'000);
  EXPECT_EQ(j["settings"]["priority"], 0);
  EXPECT_EQ(j["settings"]["pm_qos"], false) << "no SCHED_FIFO thread, no PM QoS request";
  for (const auto& c : g["contenders"]) {
    EXPECT_EQ(c["runs"], 2) << c.dump();
    EXPECT_EQ(c["figures"]["samples"], 40) << c.dump();
  }
  for (const auto& ratio : g["ratios"]) {
    // Judged when it has a target, shown for reading when not; never skipped here.
    const std::string verdict = ratio["verdict"];
    if (ratio["target"].is_null())
      EXPECT_EQ(verdict, "info") << ratio.dump();
    else
      EXPECT_TRUE(verdict == "PASS" || verdict == "FAIL") << ratio.dump();
    EXPECT_TRUE(has(r.out, verdict));
  }
  std::filesystem::remove_all(dir);
}

}  // namespace
