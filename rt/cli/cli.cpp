// The command tree (CLI11). Parsing only: each command lives in its own file.
#include "cli.hpp"

#include <unistd.h>

#include <CLI/CLI.hpp>
#include <iostream>
#include <ostream>

#include "bench.hpp"
#include "rt/version.hpp"
#include "rtconfig/config.hpp"

namespace rt::cli {

namespace {

// CLI11's own exit codes (105, 106...) are not ours: every parse error is a usage error.
int usage_error(CLI::App& app, const CLI::Error& e, std::ostream& err) {
  err << "rtengine: " << e.what() << "\nTry 'rtengine " << (app.get_name() == "rtengine" ? "" : app.get_name() + " ")
      << "--help'.\n";
  return kExitUsage;
}

}  // namespace

int main(const std::vector<std::string>& args, std::ostream& out, std::ostream& err) {
  CLI::App app{"rtengine " + std::string(version()) + ": a low-latency real-time task engine", "rtengine"};
  app.footer("Exit status: 0 done, 1 the command found a failure, 2 usage error.");
  bool show_version = false;
  app.add_flag("--version", show_version, "Print the version and build information");

  RunOptions run_opts;
  std::string duration;
  CLI::App* run_cmd = app.add_subcommand("run",
                                         "Run the engine on CONFIG, or on the built-in demo: a 1 kHz PID loop "
                                         "on a simulated motor, a 10 ms workflow and background work");
  run_cmd->add_option("config", run_opts.config, "A TOML config (rtengine config --defaults shows the demo's)");
  run_cmd->add_option("-d,--duration", duration, "Run this long (\"10s\", \"1min\"); default: until Ctrl-C");
  run_cmd->add_flag("--json", run_opts.json, "Print the final report as one JSON object");
  run_cmd->add_option("--trace", run_opts.trace, "Write the run's schedule as Chrome trace-event JSON (Perfetto)");
  run_cmd->add_option("--log-level", run_opts.log_level, "Log level: debug, info, warn, error")
      ->check(CLI::IsMember({"debug", "info", "warn", "error"}));
  run_cmd->add_option("--log-file", run_opts.log_file, "Write the JSON-lines log here instead of stderr");
  run_cmd->add_option("--journal", run_opts.journal, "Journal queued tasks here at stop; resubmit them at start");
  run_cmd
      ->add_option("--http-port", run_opts.http_port,
                   "Serve the HTTP API and /metrics on this port ([http] bind, 127.0.0.1 by default)")
      ->check(CLI::Range(0, 65535));

  std::string validate_path;
  CLI::App* validate_cmd = app.add_subcommand("validate", "Check a config; print every error as file:line:column");
  validate_cmd->add_option("config", validate_path, "The TOML file")->required();

  DoctorOptions doctor_opts;
  std::string root = "/";
  CLI::App* doctor_cmd =
      app.add_subcommand("doctor",
                         "Report whether this machine and process can run hard real-time work (kernel preemption, "
                         "SCHED_FIFO rights, memlock, RT throttling, io_uring, timers, isolation, governor...)");
  doctor_cmd->add_flag("--json", doctor_opts.json, "One JSON object instead of the table");
  doctor_cmd->add_flag("--strict", doctor_opts.strict, "Exit 1 when any check fails");
  doctor_cmd->add_option("--root", root, "Read /proc and /sys below DIR (no live probes)");

  BenchOptions bench_opts;
  std::string bench_duration = "5s", bench_period = "1ms", bench_only;
  CLI::App* bench_cmd = app.add_subcommand(
      "bench",
      "Measure the engine next to cyclictest, oslat, a mutex pool and a raw queue on this machine (SPEC P1-P7): a "
      "table of ratios against the targets, JSON, histogram CSV and plots");
  bench_cmd
      ->add_option("-d,--duration", bench_duration,
                   "How long each release-latency contender (P1, P6) is measured in all, one block per repetition "
                   "(without --reps: a block per 1000 periods, at least 5)")
      ->capture_default_str();
  bench_cmd->add_option("--period", bench_period, "Release period of the loops and cyclictest's interval")
      ->capture_default_str();
  bench_cmd->add_option("--cpu", bench_opts.settings.cpu, "The measured CPU (producers and monitors use another)")
      ->capture_default_str();
  bench_cmd
      ->add_option("--priority", bench_opts.settings.priority,
                   "SCHED_FIFO priority of every measured thread; 0: SCHED_OTHER")
      ->check(CLI::Range(0, 99))
      ->capture_default_str();
  bench_cmd->add_option("--only", bench_only, "Only these targets, e.g. P1,P2");
  bench_cmd
      ->add_option("--reps", bench_opts.reps,
                   "Repetitions of every group (default: P1 and P6 from --duration, P5 and P7 15, P2 20, others 5)")
      ->check(CLI::Range(1, 1000));
  bench_cmd
      ->add_option("--samples", bench_opts.settings.samples, "Samples per block of the handoff and detection groups")
      ->check(CLI::Range(10, 1000000))
      ->capture_default_str();
  bench_cmd->add_option("--out", bench_opts.out_dir,
                        "Write report.txt, bench.json, the histogram CSVs and the plots here");
  bench_cmd->add_flag("--json", bench_opts.json, "Print every figure as one JSON object instead of the table");
  bench_cmd->add_flag("--strict", bench_opts.strict, "Exit 1 when a target is not met");
  bench_cmd->add_option("--load", bench_opts.load, "Run every group under this load (P6 always loads its own blocks)")
      ->check(CLI::IsMember({"stress-ng"}));
  bench_cmd->add_flag("--rt-unthrottle", bench_opts.rt_unthrottle,
                      "Lift RT throttling (kernel.sched_rt_runtime_us = -1) for the run and put it back at the end: "
                      "a spinning SCHED_FIFO contender otherwise loses its CPU for up to 50 ms a second");
  bench_cmd->add_flag("!--no-pm-qos", bench_opts.settings.pm_qos,
                      "Hold no /dev/cpu_dma_latency request in any contender (as cyclictest --laptop)");
  bench_cmd->add_option("--cyclictest", bench_opts.settings.cyclictest, "cyclictest program (\"none\": skip it)")
      ->capture_default_str();
  bench_cmd->add_option("--oslat", bench_opts.settings.oslat, "oslat program (\"none\": skip it)")
      ->capture_default_str();
  bench_cmd->add_option("--stress-ng", bench_opts.settings.stress_ng, "stress-ng program (\"none\": skip P6's load)")
      ->capture_default_str();
  bench_cmd->add_option("--gnuplot", bench_opts.gnuplot, "gnuplot program for the plots")->capture_default_str();

  bool defaults = false;
  CLI::App* config_cmd = app.add_subcommand("config", "Show configuration");
  config_cmd->add_flag("--defaults", defaults, "Print the built-in config (the demo) as commented TOML")->required();

  try {
    app.parse(std::vector<std::string>(args.rbegin(), args.rend()));  // CLI11 takes them reversed
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e, out, err);
  } catch (const CLI::ParseError& e) {
    for (CLI::App* sub : app.get_subcommands())
      if (sub->parsed()) return usage_error(*sub, e, err);
    return usage_error(app, e, err);
  }

  if (show_version) {
    out << "rtengine " << version() << " (" << build_info() << ")\n";
    return kExitOk;
  }
  if (run_cmd->parsed()) {
    if (!duration.empty() && !config::parse_duration(duration, run_opts.duration)) {
      err << "rtengine run: --duration: expected a duration such as \"10s\" or \"500ms\", found \"" << duration
          << "\"\nTry 'rtengine run --help'.\n";
      return kExitUsage;
    }
    run_opts.live = &err == &std::cerr && ::isatty(STDERR_FILENO) == 1;
    return run(run_opts, out, err);
  }
  if (bench_cmd->parsed()) {
    auto bad = [&](const std::string& what) {
      err << "rtengine bench: " << what << "\nTry 'rtengine bench --help'.\n";
      return kExitUsage;
    };
    if (!config::parse_duration(bench_duration, bench_opts.duration) || bench_opts.duration <= 0)
      return bad("--duration: expected a duration such as \"10s\", found \"" + bench_duration + "\"");
    if (!config::parse_duration(bench_period, bench_opts.settings.period) || bench_opts.settings.period < 10'000 ||
        bench_opts.settings.period > 1'000'000'000 || bench_opts.settings.period % 1000 != 0)
      return bad("--period: expected whole microseconds from 10us to 1s (cyclictest's -i), found \"" + bench_period +
                 "\"");
    for (std::size_t at = 0; !bench_only.empty();) {
      const std::size_t comma = bench_only.find(',', at);
      bench_opts.only.push_back(bench_only.substr(at, comma - at));
      if (comma == std::string::npos) break;
      at = comma + 1;
    }
    bench_opts.live = &err == &std::cerr && ::isatty(STDERR_FILENO) == 1;
    return bench_command(bench_opts, out, err);
  }
  if (validate_cmd->parsed()) return validate(validate_path, out, err);
  if (doctor_cmd->parsed()) {
    doctor_opts.root = root;
    return doctor(doctor_opts, out, err);
  }
  if (config_cmd->parsed()) {
    out << config::default_text();
    return kExitOk;
  }
  err << app.help() << "rtengine: a command is needed\n";
  return kExitUsage;
}

}  // namespace rt::cli
