// `rtengine run` in-process: the demo and small configs, end to end.
#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "cli.hpp"

namespace {

struct CliRun {
  int code;
  std::string out, err;
};

CliRun run(const std::vector<std::string>& args) {
  std::ostringstream out, err;
  const int code = rt::cli::main(args, out, err);
  return {code, out.str(), err.str()};
}

std::string write_temp(const std::string& name, const std::string& text) {
  const auto path =
      std::filesystem::temp_directory_path() / ("rtengine_run_test_" + std::to_string(getpid()) + "_" + name);
  std::ofstream(path) << text;
  return path.string();
}

const nlohmann::json& loop_named(const nlohmann::json& report, const std::string& name) {
  for (const auto& l : report.at("loops"))
    if (l.at("name") == name) return l;
  throw std::runtime_error("no loop named " + name);
}

TEST(Run, TheBuiltInDemoRunsAndReports) {
  const CliRun r = run({"run", "--duration", "2500ms", "--json"});
  ASSERT_EQ(r.code, 0) << r.err;
  const nlohmann::json doc = nlohmann::json::parse(r.out);
  EXPECT_GE(doc.at("duration_s").get<double>(), 2.4);
  const auto& motor = loop_named(doc, "motor");
  // Releases come on the absolute grid whatever the machine: about 2500 in 2.5 s, fewer
  // only when skipped (under qemu), and every one is either run or skipped.
  EXPECT_GT(motor.at("releases").get<std::uint64_t>(), 500U);
  EXPECT_EQ(motor.at("releases").get<std::uint64_t>(),
            motor.at("runs").get<std::uint64_t>() + motor.at("skipped").get<std::uint64_t>());
  EXPECT_GT(motor.at("jitter_samples").get<std::uint64_t>(), 0U);
  EXPECT_LE(motor.at("jitter_min_us").get<double>(), motor.at("jitter_p50_us").get<double>());
  EXPECT_LE(motor.at("jitter_p50_us").get<double>(), motor.at("jitter_p99_us").get<double>());
  EXPECT_LE(motor.at("jitter_p99_us").get<double>(), motor.at("jitter_max_us").get<double>() * 1.01);
  ASSERT_EQ(doc.at("graphs").size(), 1U);
  EXPECT_EQ(doc.at("graphs")[0].at("name"), "frame");
  EXPECT_GT(doc.at("graphs")[0].at("runs").get<std::uint64_t>(), 10U);
  const auto& tasks = doc.at("tasks");
  EXPECT_GT(tasks.at("submitted").get<std::uint64_t>(), 100U);
  // Every accepted task has its outcome after the drain.
  EXPECT_EQ(tasks.at("submitted").get<std::uint64_t>(),
            tasks.at("completed").get<std::uint64_t>() + tasks.at("failed").get<std::uint64_t>() +
                tasks.at("timed_out").get<std::uint64_t>() + tasks.at("cancelled").get<std::uint64_t>() +
                tasks.at("skipped").get<std::uint64_t>());
  // "upload" always fails: once it has had its retry, it is dead-lettered.
  EXPECT_GE(tasks.at("dead_lettered").get<std::uint64_t>(), 1U);
  ASSERT_TRUE(doc.at("tracking").is_object());
  EXPECT_GT(doc.at("tracking").at("samples").get<std::uint64_t>(), 0U);
  EXPECT_TRUE(std::isfinite(doc.at("tracking").at("rms").get<double>()));
}

TEST(Run, TheTextReportHasEverySection) {
  const CliRun r = run({"run", "--duration", "1s"});
  ASSERT_EQ(r.code, 0) << r.err;
  for (const char* s : {"Loops: release jitter", "motor", "Graphs", "frame", "Tasks by outcome", "Plant tracking"})
    EXPECT_NE(r.out.find(s), std::string::npos) << s << "\n" << r.out;
}

// Every 50th run of the loop (5 ms: qemu keeps up) poisons the controller state with NaN and throws: only the
// snapshot rollback keeps the NaN out of the plant and of the tracking figures.
TEST(Run, RollbackKeepsInjectedFaultsOutOfTheControlLoop) {
  const std::string cfg = write_temp("faults.toml", R"(
[run]
duration = "1500ms"
[[engine.worker]]
priority = 0
classes = "all"
[[periodic]]
name = "m"
handler = "motor_pid"
period = "5ms"
rollback = true
fail_every = 50
)");
  const CliRun r = run({"run", cfg, "--json"});
  std::filesystem::remove(cfg);
  ASSERT_EQ(r.code, 0) << r.err;
  const nlohmann::json doc = nlohmann::json::parse(r.out);
  const auto& m = loop_named(doc, "m");
  const auto runs = m.at("runs").get<std::uint64_t>();
  ASSERT_GE(runs, 50U) << "too few runs to inject a fault";
  // A slow machine (qemu) may also overrun a deadline now and then: more rollbacks, and a
  // run that timed out before its throw counts no exception. Never fewer of either.
  EXPECT_GE(m.at("exceptions").get<std::uint64_t>(), 1U);
  EXPECT_LE(m.at("exceptions").get<std::uint64_t>(), runs / 50);
  EXPECT_GE(m.at("rollbacks").get<std::uint64_t>(), m.at("exceptions").get<std::uint64_t>());
  const double rms = doc.at("tracking").at("rms").get<double>();
  EXPECT_TRUE(std::isfinite(rms));
  EXPECT_LT(rms, 1.0);
}

TEST(Run, ASignalStopsTheRunAndItDrains) {
  std::ostringstream out, err;
  rt::cli::RunOptions o;
  o.json = true;
  o.duration = 0;  // until a signal
  o.on_started = [] { ASSERT_EQ(kill(getpid(), SIGTERM), 0); };
  const int code = rt::cli::run(o, out, err);
  ASSERT_EQ(code, 0) << err.str();
  const nlohmann::json doc = nlohmann::json::parse(out.str());
  EXPECT_LT(doc.at("duration_s").get<double>(), 60.0);
  // The handler is gone with the run: SIGTERM's disposition is what it was.
  struct sigaction now {};
  sigaction(SIGTERM, nullptr, &now);
  EXPECT_EQ(now.sa_handler, SIG_DFL);
}

TEST(Run, ABadConfigIsNamedAndNothingRuns) {
  const std::string cfg = write_temp("bad.toml", "[[periodic]]\nname = \"m\"\nhandler = \"motor_pdi\"\n");
  const CliRun r = run({"run", cfg});
  std::filesystem::remove(cfg);
  EXPECT_EQ(r.code, rt::cli::kExitFailed);
  EXPECT_NE(r.err.find(cfg + ":3:"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("did you mean \"motor_pid\""), std::string::npos) << r.err;
  EXPECT_TRUE(r.out.empty());
}

TEST(Run, AMissingConfigFileIsNamed) {
  const CliRun r = run({"run", "/nonexistent/rtengine.toml"});
  EXPECT_EQ(r.code, rt::cli::kExitFailed);
  EXPECT_NE(r.err.find("/nonexistent/rtengine.toml"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("cannot open"), std::string::npos) << r.err;
}

}  // namespace
