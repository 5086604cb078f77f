// `rtengine run` in-process: the demo and small configs, end to end.
#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>

#include "cli.hpp"
#include "cli_run.hpp"
#include "rt/journal.hpp"

namespace {

using testing_support::CliRun;
CliRun run(const std::vector<std::string>& args) { return testing_support::run_cli(args); }

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

namespace {

std::vector<nlohmann::json> log_lines(const std::string& path) {
  std::vector<nlohmann::json> v;
  std::ifstream in(path);
  for (std::string line; std::getline(in, line);)
    v.push_back(nlohmann::json::parse(line));
  return v;
}

const nlohmann::json* find_event(const std::vector<nlohmann::json>& lines, const std::string& event) {
  for (const auto& l : lines)
    if (l.value("event", "") == event) return &l;
  return nullptr;
}

// F30 end to end: a run that stops with work queued (Cancel) journals it; the next run
// resubmits every one of those tasks and drains them.
TEST(Run, AJournalCarriesQueuedWorkToTheNextRun) {
  const std::string journal = write_temp("journal.txt", "");
  std::filesystem::remove(journal);
  const std::string log1 = write_temp("log1.jsonl", ""), log2 = write_temp("log2.jsonl", "");
  const std::string common = "[[engine.worker]]\npriority = 0\nclasses = \"all\"\n[journal]\npath = \"" + journal +
                             "\"\n[logging]\nlevel = \"info\"\n";
  // 400 submissions a second of 10 ms each on one worker: the queue only grows.
  const std::string first = write_temp("first.toml", "[run]\nduration = \"500ms\"\nstop = \"cancel\"\n" + common +
                                                         "[[task]]\nname = \"slow\"\nhandler = \"work\"\n"
                                                         "rate = 400\nwork = \"10ms\"\n");
  const std::string second = write_temp("second.toml", "[run]\nduration = \"100ms\"\nstop = \"drain\"\n" + common +
                                                           "[[task]]\nname = \"slow\"\nhandler = \"work\"\n");
  CliRun r = run({"run", first, "--json", "--log-file", log1});
  ASSERT_EQ(r.code, 0) << r.err;
  const auto lines1 = log_lines(log1);
  const nlohmann::json* written = find_event(lines1, "journal_written");
  ASSERT_NE(written, nullptr) << r.err;
  const auto journaled = std::stoull(written->at("tasks").get<std::string>());
  EXPECT_GT(journaled, 10U);
  const nlohmann::json doc1 = nlohmann::json::parse(r.out);
  EXPECT_GE(doc1.at("tasks").at("cancelled").get<std::uint64_t>(), journaled);

  r = run({"run", second, "--json", "--log-file", log2});
  ASSERT_EQ(r.code, 0) << r.err;
  const auto lines2 = log_lines(log2);
  const nlohmann::json* resubmitted = find_event(lines2, "journal_resubmitted");
  ASSERT_NE(resubmitted, nullptr);
  EXPECT_EQ(std::stoull(resubmitted->at("submitted").get<std::string>()), journaled);
  const nlohmann::json doc2 = nlohmann::json::parse(r.out);
  EXPECT_EQ(doc2.at("tasks").at("submitted").get<std::uint64_t>(), journaled);
  EXPECT_EQ(doc2.at("tasks").at("completed").get<std::uint64_t>(), journaled);  // the drain ran every one
  for (const auto& f : {journal, log1, log2, first, second})
    std::filesystem::remove(f);
}

// A run whose config lacks a journaled task's type cannot run it, and must not lose it:
// the entry is written back for a later start.
TEST(Run, JournaledTasksOfATypeThisConfigLacksAreKept) {
  const std::string journal = write_temp("kept.txt", "");
  rt::JournalEntry entry;
  entry.type = "gone";
  entry.context.user_id = 42;
  rt::write_journal(journal, {entry, entry});
  const std::string cfg = write_temp("kept.toml", "[run]\nduration = \"50ms\"\n[journal]\npath = \"" + journal +
                                                      "\"\n[[task]]\nname = \"other\"\nhandler = \"work\"\n");
  const CliRun r = run({"run", cfg, "--json"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.err.find("2 of 2 tasks not resubmitted"), std::string::npos) << r.err;
  const rt::JournalRead after = rt::read_journal(journal);
  ASSERT_EQ(after.status, rt::JournalStatus::Ok) << after.error;
  ASSERT_EQ(after.entries.size(), 2U);
  EXPECT_EQ(after.entries[0].type, "gone");
  EXPECT_EQ(after.entries[1].context.user_id, 42U);
  std::filesystem::remove(journal);
  std::filesystem::remove(cfg);
}

TEST(Run, ACorruptJournalIsSetAsideNotTrusted) {
  const std::string journal = write_temp("corrupt.txt", "rtengine-journal 1\n{\"type\":\"slow\"}\n");  // no trailer
  const std::string cfg = write_temp("corrupt.toml", "[run]\nduration = \"50ms\"\n[journal]\npath = \"" + journal +
                                                         "\"\n[[task]]\nname = \"slow\"\nhandler = \"work\"\n");
  const CliRun r = run({"run", cfg, "--json"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.err.find("is corrupt"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("set aside as " + journal + ".corrupt-"), std::string::npos) << r.err;
  EXPECT_EQ(nlohmann::json::parse(r.out).at("tasks").at("submitted").get<std::uint64_t>(), 0U);
  std::size_t aside = 0;
  for (const auto& e : std::filesystem::directory_iterator(std::filesystem::path(journal).parent_path())) {
    if (e.path().string().rfind(journal + ".corrupt-", 0) == 0) {
      ++aside;
      std::filesystem::remove(e.path());
    }
  }
  EXPECT_EQ(aside, 1U);
  std::filesystem::remove(journal);  // the stop wrote a fresh, empty one
  std::filesystem::remove(cfg);
}

TEST(Run, TheTraceFileIsChromeTraceJson) {
  const std::string trace = write_temp("trace.json", "");
  const CliRun r = run({"run", "--duration", "500ms", "--trace", trace});
  ASSERT_EQ(r.code, 0) << r.err;
  std::ifstream in(trace);
  const nlohmann::json doc = nlohmann::json::parse(in);
  std::filesystem::remove(trace);
  std::set<std::string> phases, names;
  for (const auto& ev : doc.at("traceEvents")) {
    phases.insert(ev.at("ph").get<std::string>());
    names.insert(ev.at("name").get<std::string>());
    if (ev.at("ph") == "X") {
      EXPECT_GE(ev.at("dur").get<double>(), 0.0);
      EXPECT_GE(ev.at("ts").get<double>(), 0.0);
    }
  }
  EXPECT_TRUE(phases.count("M") && phases.count("X")) << doc.dump().substr(0, 400);
  EXPECT_TRUE(names.count("motor")) << "no span of the control loop";
  EXPECT_TRUE(names.count("frame")) << "no span of the workflow";
}

}  // namespace
