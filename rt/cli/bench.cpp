// `rtengine bench`: places its own thread, checks what the process may do (SCHED_FIFO,
// the CPUs), runs the selected groups with a progress line, then writes the report.
#include "bench.hpp"

#include <sys/utsname.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <optional>
#include <ostream>

#include "cli.hpp"
#include "hal/clock.hpp"
#include "hal/memory.hpp"
#include "hal/rt_throttle.hpp"
#include "hal/syscheck.hpp"
#include "hal/thread.hpp"
#include "rtbench/report.hpp"
#include "rtbench/runner.hpp"
#include "rtbench/tools.hpp"
#include "signals.hpp"

namespace rt::cli {

namespace {

using bench::Group;
using bench::Settings;

std::string machine() {
  utsname u{};
  if (uname(&u) != 0) return {};
  return std::string(u.sysname) + " " + u.release + " " + u.machine + ", " +
         std::to_string(sysconf(_SC_NPROCESSORS_ONLN)) + " CPUs";
}

// RT throttling, lifted for the run when asked (`lift`, engaged): what the report says of it.
std::string rt_throttling(const std::optional<hal::RtThrottleLift>& lift, std::vector<std::string>& warnings) {
  if (lift && lift->lifted())
    return "lifted for this run (--rt-unthrottle; sched_rt_runtime_us was " + std::to_string(*lift->found()) +
           ", put back at the end)";
  if (lift && !lift->status().ok())
    warnings.push_back("--rt-unthrottle: " + lift->status().message() + ": RT throttling stays as it is");
  // As `rtengine doctor` finds it (hal/syscheck.hpp).
  for (const hal::Check& c : hal::evaluate(hal::read_system_facts(), nullptr).checks) {
    if (c.id != "rt_throttling") continue;
    if (c.verdict != hal::Verdict::Warn) return c.value;
    return c.value +
           "; a spinning contender (P1 spin, oslat, P7 kept hot) stops for up to the rest whenever a fair task "
           "wants its CPU (--rt-unthrottle lifts it for the run)";
  }
  return "not checked";
}

// One probe thread asks for what every measured thread will: the answer decides the
// run's policy once, instead of every contender degrading on its own.
std::string check_scheduling(Settings& s, std::vector<std::string>& warnings) {
  if (s.priority == 0) return "SCHED_OTHER (--priority 0)";
  hal::ThreadApplied applied;
  hal::Thread probe({.name = "bench-probe", .cpu = s.cpu, .priority = s.priority, .prefault_stack_bytes = 0}, [] {});
  applied = probe.applied();
  probe.join();
  if (!applied.sched.ok()) {
    warnings.push_back("SCHED_FIFO " + std::to_string(s.priority) + " refused (" + applied.sched.message() +
                       "): every contender runs SCHED_OTHER; ratios still compare like with like, absolute "
                       "figures mean little");
    s.priority = 0;
    return "SCHED_OTHER (SCHED_FIFO refused)";
  }
  if (!applied.affinity.ok()) warnings.push_back("pinning to CPU " + std::to_string(s.cpu) + " refused");
  return "SCHED_FIFO " + std::to_string(s.priority);
}

void write_file(const std::filesystem::path& p, const std::string& text) {
  std::ofstream f(p);
  f << text;
  if (!f) throw std::runtime_error("cannot write " + p.string());
}

std::string format_left(ns_t left) {
  const long s = static_cast<long>(left / hal::kNsPerSec);
  return s >= 60 ? std::to_string(s / 60) + " min " + std::to_string(s % 60) + " s" : std::to_string(s) + " s";
}

// Writes every artefact into `dir`; returns the files written (names only).
std::vector<std::string> write_artefacts(const bench::BenchRun& run, const BenchOptions& o, std::ostream& err) {
  const std::filesystem::path dir(o.out_dir);
  std::filesystem::create_directories(dir);
  std::vector<std::string> files;
  auto put = [&](const std::string& name, const std::string& text) {
    write_file(dir / name, text);
    files.push_back(name);
  };
  put("report.txt", bench::render_text(run));
  put("bench.json", bench::render_json(run).dump(2) + "\n");
  for (const bench::GroupRun& g : run.groups) {
    std::string lower = g.id;
    std::transform(lower.begin(), lower.end(), lower.begin(), [](unsigned char c) { return std::tolower(c); });
    const std::string csv = bench::histogram_csv(g);
    if (csv.empty()) continue;
    put(lower + "_histogram.csv", csv);
    if (g.id != "P1") continue;
    // The CSV's columns: the latency contenders that measured something, in order.
    std::vector<std::string> labels;
    std::vector<double> totals;
    for (const auto& c : g.contenders) {
      const auto f = bench::figures_of(c);
      if (c.kind == bench::Kind::Latency && c.skipped.empty() && f.samples > 0) {
        labels.push_back(c.label);
        totals.push_back(static_cast<double>(f.samples));
      }
    }
    // The script names its files relative to the folder it is run in.
    put("p1_release.gp",
        bench::gnuplot_script(lower + "_histogram.csv", labels, totals, g.title, "p1_release.png", "p1_release.svg"));
    if (const std::string why = bench::program_unavailable(o.gnuplot, "gnuplot-nox"); !why.empty()) {
      err << "rtengine bench: no plot: " << why << "\n";
      continue;
    }
    // The script's path is relative to the folder gnuplot runs in.
    const std::string why = bench::run_gnuplot(o.gnuplot, "p1_release.gp", dir.string());
    if (why.empty()) {
      files.emplace_back("p1_release.png");
      files.emplace_back("p1_release.svg");
    } else {
      err << "rtengine bench: gnuplot failed: " << why << "\n";
    }
  }
  return files;
}

}  // namespace

std::vector<Group> select_groups(const Settings& s, const std::vector<std::string>& only, std::string& error) {
  using Make = Group (*)(const Settings&);
  const std::vector<std::pair<std::string, Make>> all = {
      {"P1", bench::p1_release},  {"P2", bench::p2_handoff}, {"P3", bench::p3_detection}, {"P4", bench::p4_throughput},
      {"P5", bench::p5_critical}, {"P6", bench::p6_load},    {"P7", bench::p7_graph}};
  std::vector<Group> out;
  for (const auto& name : only) {
    std::string up = name;
    std::transform(up.begin(), up.end(), up.begin(), [](unsigned char c) { return std::toupper(c); });
    if (std::none_of(all.begin(), all.end(), [&](const auto& p) { return p.first == up; })) {
      error = "--only: unknown target \"" + name + "\" (P1 ... P7)";
      return {};
    }
  }
  for (const auto& entry : all) {
    const std::string& id = entry.first;
    const bool wanted =
        only.empty() || std::any_of(only.begin(), only.end(), [&id](std::string n) {
          std::transform(n.begin(), n.end(), n.begin(), [](unsigned char c) { return std::toupper(c); });
          return n == id;
        });
    if (wanted) out.push_back(entry.second(s));
  }
  return out;
}

int bench_command(BenchOptions o, std::ostream& out, std::ostream& err) {
  Settings& s = o.settings;
  const long cpus = sysconf(_SC_NPROCESSORS_ONLN);
  if (s.cpu < 0 || s.cpu >= cpus) {
    err << "rtengine bench: --cpu " << s.cpu << ": this machine has CPUs 0.." << cpus - 1 << "\n";
    return kExitUsage;
  }
  s.side_cpu = s.cpu == 0 ? (cpus > 1 ? 1 : 0) : 0;
  std::string error;
  std::vector<Group> groups = select_groups(s, o.only, error);
  if (!error.empty()) {
    err << "rtengine bench: " << error << "\nTry 'rtengine bench --help'.\n";
    return kExitUsage;
  }

  bench::BenchRun run;
  bench::Conditions& c = run.conditions;
  c.machine = machine();
  if (cpus < 2) c.warnings.emplace_back("one CPU: producers, monitors and baselines share the measured CPU");
  // The bench's own thread (it waits, polls and spawns) stays off the measured CPU.
  (void)hal::apply_to_current_thread({.name = "rtengine", .cpu = s.side_cpu, .prefault_stack_bytes = 0});
  c.scheduling = check_scheduling(s, c.warnings);
  // Locked for the whole run, so a baseline measured before the engine's first start()
  // (which locks the process for good) runs locked too, as cyclictest -m does.
  const hal::LockOutcome locked = hal::lock_memory_or_report();
  c.memory = locked.locked ? "locked (mlockall), as cyclictest -m" : "NOT locked (mlockall refused)";
  // Ctrl-C ends the bench after the block in progress, with the report of what ran, and
  // stops the load (a killed bench would leave stress-ng running in its own group).
  const SignalGuard signals;
  // Put back when run() returns, after the report (or by its restorer process, however
  // this one ends: hal/rt_throttle.hpp).
  std::optional<hal::RtThrottleLift> unthrottle;
  if (o.rt_unthrottle) unthrottle.emplace();
  c.rt_throttling = rt_throttling(unthrottle, c.warnings);
  // The release-latency groups (P1, P6) split --duration into blocks, one per repetition.
  const int release_reps = bench::release_repetitions(o.duration, s.period, o.reps);
  s.block = std::max<ns_t>(20 * s.period, o.duration / release_reps);
  if (o.reps > 0 && o.reps < 5)
    c.warnings.push_back("--reps " + std::to_string(o.reps) + ": SPEC's method asks for at least 5 repetitions");
  // --reps overrides every group's own count (min_reps is the default then).
  for (auto& g : groups) {
    if (o.reps > 0) {
      g.min_reps = o.reps;
    } else if (g.splits_duration) {
      g.min_reps = release_reps;
    }
  }
  // Groups that hand work from one CPU to another need two: on one, a spinning SCHED_FIFO
  // producer would never let its consumer run.
  if (cpus < 2)
    for (auto& g : groups)
      if (g.id != "P1" && g.id != "P6")
        for (auto& ct : g.contenders)
          ct.unavailable = [](const Settings&) { return std::string("needs 2 CPUs (this machine has 1)"); };
  c.settings = s;

  if (!o.out_dir.empty()) {
    std::error_code ec;
    std::filesystem::create_directories(o.out_dir, ec);
    const std::filesystem::path probe = std::filesystem::path(o.out_dir) / ".rtengine-bench-write-test";
    if (std::ofstream(probe) << "") {
      std::filesystem::remove(probe, ec);
    } else {
      err << "rtengine bench: --out " << o.out_dir << ": cannot write there"
          << (ec ? " (" + ec.message() + ")" : std::string()) << "\n";
      return kExitFailed;
    }
  }

  bench::Background load;
  if (o.load == "stress-ng") {
    if (const std::string why = bench::program_unavailable(s.stress_ng, "stress-ng"); !why.empty()) {
      err << "rtengine bench: --load stress-ng: " << why << "\n";
      return kExitFailed;
    }
    c.load = bench::describe_load(s) + " (started by the bench, for every group but P6, which loads its own blocks)";
  }

  const ns_t total = bench::estimate(groups, s, 0);
  const ns_t start = hal::now_ns();
  std::string last_rep;  // without a terminal: one line per repetition, not per block
  auto progress = [&](const bench::Progress& p) {
    const std::string rep = p.group + " " + std::to_string(p.rep) + "/" + std::to_string(p.reps);
    const std::string left = " (about " + format_left(p.left) + " left)";
    if (o.live) {
      err << "\r\033[K[" << rep << "] " << p.contender << left << std::flush;
    } else if (rep != last_rep) {
      err << "rtengine bench: " << rep << ": " << p.contender << "..." << left << "\n";
      last_rep = rep;
    }
  };
  for (const Group& g : groups) {
    const bool loaded = !c.load.empty() && g.id != "P6";
    if (loaded && !load.running()) {
      if (const std::string why = load.start(bench::load_args(s), 500 * hal::kNsPerMs); !why.empty()) {
        err << "rtengine bench: --load stress-ng: " << why << "\n";
        return kExitFailed;
      }
    } else if (!loaded && load.running()) {
      load.stop();
    }
    run.groups.push_back(bench::run_group(g, s, 0, progress, total, hal::now_ns() - start, &caught_signal()));
    if (run.groups.back().interrupted) {
      c.warnings.emplace_back("interrupted by a signal: the report holds what ran before it");
      break;
    }
  }
  load.stop();
  run.elapsed = hal::now_ns() - start;
  if (o.live) err << "\r\033[K" << std::flush;

  int code = kExitOk;
  try {
    if (!o.out_dir.empty()) {
      const auto files = write_artefacts(run, o, err);
      std::string list;
      for (const auto& f : files)
        list += (list.empty() ? "" : ", ") + f;
      err << "rtengine bench: wrote " << list << " in " << o.out_dir << "\n";
    }
  } catch (const std::exception& e) {
    // The table still comes: a run of minutes is not lost to a full disk.
    err << "rtengine bench: " << e.what() << "\n";
    code = kExitFailed;
  }
  if (o.json)
    out << bench::render_json(run).dump(2) << "\n";
  else
    out << bench::render_text(run);
  const bool interrupted = !run.groups.empty() && run.groups.back().interrupted;
  return interrupted || (o.strict && !bench::all_met(run)) ? kExitFailed : code;
}

}  // namespace rt::cli
