#pragma once
// The `rtengine` command line, callable in-process so tests see exactly what a person
// sees. Exit codes: 0 done, 1 the command ran and found a failure (doctor --strict),
// 2 usage error.
#include <filesystem>
#include <iosfwd>
#include <string>
#include <vector>

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

}  // namespace rt::cli
