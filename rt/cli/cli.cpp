#include "cli.hpp"

#include <ostream>

#include "rt/version.hpp"

namespace rt::cli {

namespace {

constexpr const char* kUsage = R"(usage: rtengine <command> [options]

Commands:
  doctor [--json] [--strict] [--root DIR]
                 Report whether this machine and process can run hard real-time
                 work: kernel preemption model, SCHED_FIFO rights (RLIMIT_RTPRIO,
                 CAP_SYS_NICE), memory locking (RLIMIT_MEMLOCK), RT throttling,
                 io_uring, timer resolution and slack, clock source, SMT, CPU
                 isolation, frequency governor, /dev/cpu_dma_latency.
                 --json    one JSON object instead of the table
                 --strict  exit 1 when any check fails
                 --root    read /proc and /sys below DIR (no live probes)

Options:
  --version      print the version and build information
  -h, --help     print this help

Exit status: 0 done, 1 a check failed under --strict, 2 usage error.
)";

int usage_error(std::ostream& err, const std::string& what) {
  err << "rtengine: " << what << "\nTry 'rtengine --help'.\n";
  return kExitUsage;
}

int doctor_command(const std::vector<std::string>& args, std::ostream& out, std::ostream& err) {
  DoctorOptions opts;
  for (std::size_t i = 1; i < args.size(); ++i) {
    const std::string& a = args[i];
    if (a == "--json") {
      opts.json = true;
    } else if (a == "--strict") {
      opts.strict = true;
    } else if (a == "--root") {
      if (i + 1 >= args.size()) return usage_error(err, "doctor: --root needs a folder");
      opts.root = args[++i];
    } else if (a == "-h" || a == "--help") {
      out << kUsage;
      return kExitOk;
    } else {
      return usage_error(err, "doctor: unknown option '" + a + "'");
    }
  }
  return doctor(opts, out, err);
}

}  // namespace

int main(const std::vector<std::string>& args, std::ostream& out, std::ostream& err) {
  if (args.empty()) {
    err << kUsage;
    return kExitUsage;
  }
  const std::string& cmd = args[0];
  if (cmd == "-h" || cmd == "--help" || cmd == "help") {
    out << kUsage;
    return kExitOk;
  }
  if (cmd == "--version" || cmd == "version") {
    out << "rtengine " << version() << " (" << build_info() << ")\n";
    return kExitOk;
  }
  if (cmd == "doctor") return doctor_command(args, out, err);
  if (!cmd.empty() && cmd[0] == '-') return usage_error(err, "unknown option '" + cmd + "'");
  return usage_error(err, "unknown command '" + cmd + "'");
}

}  // namespace rt::cli
