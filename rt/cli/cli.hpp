#pragma once
// The `rtengine` command line (CLI11), callable in-process so tests see exactly what a
// person sees. Exit codes: 0 done, 1 the command ran and found a failure (validate found
// errors, doctor --strict, run could not start), 2 usage error.
#include <filesystem>
#include <functional>
#include <iosfwd>
#include <string>
#include <vector>

#include "rt/types.hpp"
#include "rtconfig/config.hpp"

namespace rt::cli {

inline constexpr int kExitOk = 0;
inline constexpr int kExitFailed = 1;
inline constexpr int kExitUsage = 2;

int main(const std::vector<std::string>& args, std::ostream& out, std::ostream& err);

struct DoctorOptions {
  bool json = false;
  bool strict = false;               // exit 1 when any check fails
  std::filesystem::path root = "/";  // a fake tree for tests; live probes only on "/"
};

int doctor(const DoctorOptions& opts, std::ostream& out, std::ostream& err);

struct RunOptions {
  std::string config;                          // a TOML file; empty: the built-in demo
  ns_t duration = -1;                          // -1: the config's run.duration
  bool json = false;                           // the final report as one JSON object on `out`
  std::string trace;                           // write a Chrome trace here at the end
  std::string log_level;                       // overrides logging.level
  std::string log_file;                        // overrides logging.destination
  std::string journal;                         // overrides journal.path
  bool live = false;                           // a live progress line (when `err` is a terminal)
  int http_port = -1;                          // >= 0: serve the HTTP API on this port (0: any free one)
  std::function<void()> on_started;            // called once the engine runs (tests: send a signal)
  std::function<void(int port)> on_listening;  // called once the HTTP API listens (tests)
};

// `rtengine run`: builds the engine from the config, runs it until the duration ends or
// SIGINT/SIGTERM, stops it (draining) and prints the report.
int run(const RunOptions& opts, std::ostream& out, std::ostream& err);

// `rtengine validate`: every error, each as file:line:column: key: message.
int validate(const std::string& path, std::ostream& out, std::ostream& err);

// The built-in handlers a config may name (the run command's catalogue).
[[nodiscard]] std::vector<std::string> handler_names();
// The catalogue with each handler's roles, for the config loader.
[[nodiscard]] config::LoadOptions load_options();

}  // namespace rt::cli
