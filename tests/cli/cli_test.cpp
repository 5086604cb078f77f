#include "cli.hpp"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <set>
#include <sstream>

#include "cli_run.hpp"
#include "fake_tree.hpp"

namespace {

using testing_support::FakeTree;

using testing_support::CliRun;
CliRun run(const std::vector<std::string>& args) { return testing_support::run_cli(args); }

using testing_support::has;

TEST(Cli, Version) {
  const CliRun r = run({"--version"});
  EXPECT_EQ(r.code, 0);
  EXPECT_TRUE(r.out.rfind("rtengine 0.", 0) == 0) << r.out;
  EXPECT_TRUE(r.err.empty());
}

TEST(Cli, Help) {
  const CliRun r = run({"--help"});
  EXPECT_EQ(r.code, 0);
  for (const char* cmd : {"run", "validate", "doctor", "config", "--version"})
    EXPECT_TRUE(has(r.out, cmd)) << cmd << "\n" << r.out;
}

TEST(Cli, EverySubcommandHasHelp) {
  for (const char* cmd : {"run", "validate", "doctor", "config"}) {
    const CliRun r = run({cmd, "--help"});
    EXPECT_EQ(r.code, 0) << cmd << ": " << r.err;
    EXPECT_TRUE(has(r.out, std::string("rtengine ") + cmd)) << r.out;
  }
  EXPECT_TRUE(has(run({"run", "--help"}).out, "--duration"));
  EXPECT_TRUE(has(run({"doctor", "--help"}).out, "--json"));
}

TEST(Cli, NoArgumentsIsAUsageError) {
  const CliRun r = run({});
  EXPECT_EQ(r.code, rt::cli::kExitUsage);
  EXPECT_TRUE(has(r.err, "a command is needed")) << r.err;
  EXPECT_TRUE(has(r.err, "Subcommands:")) << r.err;
}

TEST(Cli, UnknownCommandAndOptionsAreNamed) {
  CliRun r = run({"frobnicate"});
  EXPECT_EQ(r.code, rt::cli::kExitUsage);
  EXPECT_TRUE(has(r.err, "frobnicate")) << r.err;
  EXPECT_TRUE(r.out.empty());
  r = run({"--frob"});
  EXPECT_EQ(r.code, rt::cli::kExitUsage);
  EXPECT_TRUE(has(r.err, "--frob")) << r.err;
  r = run({"doctor", "--yaml"});
  EXPECT_EQ(r.code, rt::cli::kExitUsage);
  EXPECT_TRUE(has(r.err, "--yaml")) << r.err;
  EXPECT_TRUE(has(r.err, "rtengine doctor --help")) << r.err;
  r = run({"doctor", "--root"});
  EXPECT_EQ(r.code, rt::cli::kExitUsage);
  EXPECT_TRUE(has(r.err, "--root")) << r.err;
  r = run({"doctor", "--root", "/nonexistent/rtengine"});
  EXPECT_EQ(r.code, rt::cli::kExitUsage);
  EXPECT_TRUE(has(r.err, "is not a folder")) << r.err;
  r = run({"validate"});
  EXPECT_EQ(r.code, rt::cli::kExitUsage);
  EXPECT_TRUE(has(r.err, "config")) << r.err;
  r = run({"run", "--duration", "soon"});
  EXPECT_EQ(r.code, rt::cli::kExitUsage);
  EXPECT_TRUE(has(r.err, "--duration")) << r.err;
  EXPECT_TRUE(has(r.err, "soon")) << r.err;
  r = run({"run", "--log-level", "loud"});
  EXPECT_EQ(r.code, rt::cli::kExitUsage);
  EXPECT_TRUE(has(r.err, "loud")) << r.err;
  r = run({"config"});
  EXPECT_EQ(r.code, rt::cli::kExitUsage);
  EXPECT_TRUE(has(r.err, "--defaults")) << r.err;
}

TEST(Cli, DoctorJsonOnThisMachineParses) {
  const CliRun r = run({"doctor", "--json"});
  ASSERT_EQ(r.code, 0) << r.err;
  const nlohmann::json doc = nlohmann::json::parse(r.out);  // throws, failing the test, if not JSON
  EXPECT_EQ(doc.at("tool"), "rtengine doctor");
  EXPECT_TRUE(doc.at("live").get<bool>());
  const auto& checks = doc.at("checks");
  ASSERT_TRUE(checks.is_array());
  std::set<std::string> ids;
  const std::set<std::string> verdicts{"ok", "info", "warn", "fail"};
  for (const auto& c : checks) {
    ids.insert(c.at("id").get<std::string>());
    EXPECT_TRUE(verdicts.count(c.at("verdict").get<std::string>())) << c.dump();
    EXPECT_FALSE(c.at("value").get<std::string>().empty()) << c.dump();
  }
  for (const char* id :
       {"kernel_preemption", "rt_priority", "memlock", "cap_sys_nice", "rt_throttling", "io_uring", "timer_resolution",
        "timer_slack", "smt", "isolation", "cpu_governor", "cpu_dma_latency", "systemd_notify"}) {
    EXPECT_TRUE(ids.count(id)) << id;
  }
  const auto& s = doc.at("summary");
  EXPECT_EQ(s.at("ok").get<int>() + s.at("info").get<int>() + s.at("warn").get<int>() + s.at("fail").get<int>(),
            static_cast<int>(checks.size()));
  EXPECT_TRUE(verdicts.count(s.at("overall").get<std::string>()));
}

TEST(Cli, DoctorOnAFakeStockMachine) {
  FakeTree t;
  FakeTree::make_stock_machine(t);
  CliRun r = run({"doctor", "--root", t.root().string()});
  EXPECT_EQ(r.code, 0);
  EXPECT_TRUE(has(r.out, "no live probes"));
  EXPECT_TRUE(has(r.out, "[FAIL]  SCHED_FIFO allowed (RLIMIT_RTPRIO)")) << r.out;
  EXPECT_TRUE(has(r.out, "-> workers fall back to SCHED_OTHER")) << r.out;
  EXPECT_TRUE(has(r.out, "Summary: ")) << r.out;
  EXPECT_TRUE(has(r.out, "Verdict: fail")) << r.out;

  r = run({"doctor", "--strict", "--root", t.root().string()});
  EXPECT_EQ(r.code, rt::cli::kExitFailed);

  r = run({"doctor", "--json", "--root", t.root().string()});
  ASSERT_EQ(r.code, 0);
  const nlohmann::json doc = nlohmann::json::parse(r.out);
  EXPECT_FALSE(doc.at("live").get<bool>());
  EXPECT_EQ(doc.at("summary").at("overall"), "fail");
  bool found = false;
  for (const auto& c : doc.at("checks")) {
    if (c.at("id") == "rt_priority") {
      found = true;
      EXPECT_EQ(c.at("verdict"), "fail");
    }
  }
  EXPECT_TRUE(found);
}

TEST(Cli, DoctorStrictPassesOnAnRtMachine) {
  FakeTree t;
  FakeTree::make_rt_machine(t);
  const CliRun r = run({"doctor", "--strict", "--root", t.root().string()});
  EXPECT_EQ(r.code, 0) << r.out;
  EXPECT_TRUE(has(r.out, "Verdict: ok")) << r.out;
}

}  // namespace
