// rtengine bench's child processes: run_program (output, exit status, time limit over a
// whole process group), Background (stress-ng for real), gnuplot.
#include <dirent.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <set>
#include <string>
#include <thread>

#include "rtbench/tools.hpp"

namespace rt::bench {
namespace {

constexpr ns_t kSec = 1'000'000'000;
constexpr ns_t kMs = 1'000'000;

bool contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

// Gone, or a zombie: this VM's pid 1 does not reap the orphans it inherits, so a killed
// grandchild may stay a zombie (it runs nothing and holds nothing but its pid).
bool dead(pid_t pid) {
  if (kill(pid, 0) != 0 && errno == ESRCH) return true;
  std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
  std::string line;
  if (!std::getline(stat, line)) return true;
  const auto paren = line.rfind(')');
  return paren != std::string::npos && paren + 2 < line.size() && line[paren + 2] == 'Z';
}

// SIGKILL is delivered asynchronously: wait up to 5 s for the victim to die.
bool dies(pid_t pid) {
  for (int i = 0; i < 500 && !dead(pid); ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  return dead(pid);
}

bool group_empty(pid_t pgid) { return kill(-pgid, 0) != 0 && errno == ESRCH; }

// The processes of process group `pgid` (from /proc).
std::set<pid_t> members(pid_t pgid) {
  std::set<pid_t> out;
  for (const auto& e : std::filesystem::directory_iterator("/proc")) {
    const std::string name = e.path().filename();
    if (name.find_first_not_of("0123456789") != std::string::npos) continue;
    std::ifstream stat(e.path() / "stat");
    std::string line;
    if (!std::getline(stat, line)) continue;
    const auto paren = line.rfind(')');
    if (paren == std::string::npos) continue;
    char state = 0;
    int ppid = 0, pgrp = 0;
    if (std::sscanf(line.c_str() + paren + 1, " %c %d %d", &state, &ppid, &pgrp) == 3 && pgrp == pgid)
      out.insert(static_cast<pid_t>(std::stoi(name)));
  }
  return out;
}

TEST(BenchProcess, ProgramUnavailableNamesThePackage) {
  EXPECT_EQ(program_unavailable("sh", "dash"), "");
  EXPECT_EQ(program_unavailable("/bin/sh", "dash"), "");
  EXPECT_EQ(program_unavailable("none", "rt-tests"), "turned off");
  EXPECT_EQ(program_unavailable("", "rt-tests"), "turned off");
  EXPECT_EQ(program_unavailable("rtbench-no-such-program", "rt-tests"),
            "rtbench-no-such-program not found in PATH (Debian: apt install rt-tests)");
  EXPECT_EQ(program_unavailable("/tmp", "x"), "/tmp is not an executable file");  // a directory
  const std::string plain = (std::filesystem::temp_directory_path() / "rtbench-plain-file").string();
  std::ofstream(plain) << "echo\n";  // mode 0644
  std::filesystem::permissions(plain, std::filesystem::perms::owner_read | std::filesystem::perms::owner_write);
  EXPECT_EQ(program_unavailable(plain, "x"), plain + " is not an executable file");
  std::filesystem::remove(plain);
}

TEST(BenchProcess, RunProgramCollectsOutputAndExitStatus) {
  const ProgramResult ok = run_program({"sh", "-c", "echo out; echo err >&2"}, 10 * kSec);
  EXPECT_EQ(ok.error, "");
  EXPECT_EQ(ok.exit_status, 0);
  EXPECT_EQ(ok.output, "out\nerr\n");

  const ProgramResult bad =
      run_program({"sh", "-c", "echo usage: frob; echo 'Unable to frob the widget' >&2; exit 3"}, 10 * kSec);
  EXPECT_EQ(bad.exit_status, 3);
  EXPECT_EQ(bad.error, "sh: exit status 3: Unable to frob the widget");

  const ProgramResult signalled = run_program({"sh", "-c", "kill -TERM $$"}, 10 * kSec);
  EXPECT_EQ(signalled.exit_status, -1);
  EXPECT_EQ(signalled.error, "sh: killed by signal 15");

  // Its stdin is /dev/null, not ours: cat ends at once.
  const ProgramResult cat = run_program({"cat"}, 10 * kSec);
  EXPECT_EQ(cat.error, "");
  EXPECT_EQ(cat.output, "");
}

TEST(BenchProcess, RunProgramReportsASpawnError) {
  const ProgramResult r = run_program({"rtbench-no-such-program", "x"}, kSec);
  EXPECT_EQ(r.exit_status, -1);
  EXPECT_EQ(r.error, "cannot run rtbench-no-such-program: No such file or directory");
  EXPECT_EQ(run_program({}, kSec).error, "no program to run");
}

TEST(BenchProcess, RunProgramKillsItsWholeGroupOnTimeout) {
  const auto t0 = std::chrono::steady_clock::now();
  // A grandchild that holds the output pipe open: only killing the group ends it.
  const ProgramResult r = run_program({"sh", "-c", "sleep 30 & echo $!; sleep 30"}, 300 * kMs);
  const auto took = std::chrono::steady_clock::now() - t0;
  EXPECT_EQ(r.exit_status, -1);
  EXPECT_TRUE(contains(r.error, "sh: killed after running longer than its 0.3 s")) << r.error;
  EXPECT_LT(took, std::chrono::seconds(10));  // not the 30 s of its sleeps
  const pid_t grandchild = static_cast<pid_t>(std::stoi(r.output));
  ASSERT_GT(grandchild, 0);
  EXPECT_TRUE(dies(grandchild));
}

TEST(BenchProcess, RunProgramLeaksNoDescriptor) {
  // What the child may hold: its stdin, stdout and stderr, and whatever this process
  // itself holds without close-on-exec (a test runner's descriptors), never our pipe.
  std::string expected = "0\n1\n2\n";
  std::set<int> inherited;
  for (const auto& e : std::filesystem::directory_iterator("/proc/self/fd")) {
    const int fd = std::stoi(e.path().filename());
    const int flags = fcntl(fd, F_GETFD);
    if (fd > 2 && flags >= 0 && (flags & FD_CLOEXEC) == 0) inherited.insert(fd);
  }
  for (const int fd : inherited)
    expected += std::to_string(fd) + "\n";  // ls -v: in numeric order, as the set
  // ls lists its parent shell's descriptors: /dev/null, then the output pipe twice.
  const ProgramResult r = run_program({"sh", "-c", "ls -v /proc/$$/fd"}, 10 * kSec);
  EXPECT_EQ(r.error, "");
  EXPECT_EQ(r.output, expected);
}

TEST(BenchProcess, BackgroundRunsInItsOwnGroupAndStops) {
  Background b;
  ASSERT_EQ(b.start({"sleep", "30"}, 100 * kMs), "");
  ASSERT_TRUE(b.running());
  const pid_t pid = b.pid();
  EXPECT_EQ(kill(pid, 0), 0);
  EXPECT_EQ(getpgid(pid), pid);
  EXPECT_EQ(b.start({"sleep", "1"}, 0), "already running " + std::to_string(pid));
  Background moved(std::move(b));
  EXPECT_FALSE(b.running());  // NOLINT(bugprone-use-after-move): moved-from is defined
  EXPECT_EQ(moved.pid(), pid);
  moved.stop();
  EXPECT_FALSE(moved.running());
  EXPECT_TRUE(group_empty(pid));
}

TEST(BenchProcess, BackgroundKillsWhatIgnoresSigterm) {
  Background b;
  ASSERT_EQ(b.start({"sh", "-c", "trap '' TERM; exec sleep 30"}, 100 * kMs), "");
  const pid_t pid = b.pid();
  b.stop();  // SIGTERM, ~2 s, SIGKILL
  EXPECT_TRUE(group_empty(pid));
}

TEST(BenchProcess, BackgroundReportsWhatAnEarlyExitSaid) {
  Background b;
  EXPECT_EQ(b.start({"sh", "-c", "echo 'stress-ng: error: invalid --vm-bytes' >&2; exit 1"}, 2 * kSec),
            "sh: exited within 2.0 s (exit status 1): stress-ng: error: invalid --vm-bytes");
  EXPECT_FALSE(b.running());
  EXPECT_EQ(b.start({"rtbench-no-such-program"}, kSec),
            "cannot run rtbench-no-such-program: No such file or directory");
}

TEST(BenchProcess, StressNgStartsAndStopsLeavingNothing) {
  if (const std::string why = program_unavailable("stress-ng", "stress-ng"); !why.empty()) GTEST_SKIP() << why;
  const StressSpec spec{.vm_workers = 1, .vm_bytes = "16M", .cpus = {0}};
  Background b;
  ASSERT_EQ(b.start(stress_args(spec), 300 * kMs), "");
  const pid_t pgid = b.pid();
  EXPECT_EQ(kill(pgid, 0), 0);
  // Its parent and its vm worker(s), all in the group stop() signals.
  EXPECT_GE(members(pgid).size(), 1U);
  b.stop();
  EXPECT_FALSE(b.running());
  EXPECT_TRUE(group_empty(pgid)) << members(pgid).size() << " left in its group";
}

TEST(BenchProcess, RunsGnuplot) {
  if (const std::string why = program_unavailable("gnuplot", "gnuplot-nox"); !why.empty()) GTEST_SKIP() << why;
  const std::filesystem::path dir = std::filesystem::temp_directory_path() / ("rtbench-" + std::to_string(getpid()));
  std::filesystem::create_directories(dir);
  std::ofstream(dir / "ok.gp") << "set terminal svg\nset output '" << (dir / "plot.svg").string() << "'\nplot x\n";
  EXPECT_EQ(run_gnuplot("gnuplot", (dir / "ok.gp").string()), "");
  EXPECT_GT(std::filesystem::file_size(dir / "plot.svg"), 100U);
  std::ofstream(dir / "bad.gp") << "plot frobnicate(\n";
  EXPECT_TRUE(contains(run_gnuplot("gnuplot", (dir / "bad.gp").string()), "gnuplot: exit status 1"));
  std::filesystem::remove_all(dir);
}

// As rtengine bench runs it: a script naming its files relative to the folder it sits in,
// that folder given relative to ours (--out build/bench/ci): gnuplot works there.
TEST(BenchProcess, RunsGnuplotInARelativeFolder) {
  if (const std::string why = program_unavailable("gnuplot", "gnuplot-nox"); !why.empty()) GTEST_SKIP() << why;
  const std::filesystem::path dir = "rtbench-rel-" + std::to_string(getpid()) + "/out";
  std::filesystem::create_directories(dir);
  std::ofstream(dir / "p.gp") << "set terminal svg\nset output 'plot.svg'\nplot x\n";
  EXPECT_EQ(run_gnuplot("gnuplot", "p.gp", dir.string()), "");
  EXPECT_TRUE(std::filesystem::exists(dir / "plot.svg"));
  std::filesystem::remove_all(dir.parent_path());
}

}  // namespace
}  // namespace rt::bench
