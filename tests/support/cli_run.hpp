#pragma once
// `rtengine ARGS` in-process, with what it printed: what a person sees, for the CLI tests.
#include <sstream>
#include <string>
#include <vector>

#include "cli.hpp"

namespace testing_support {

struct CliRun {
  int code;
  std::string out, err;
};

inline CliRun run_cli(const std::vector<std::string>& args) {
  std::ostringstream out, err;
  const int code = rt::cli::main(args, out, err);
  return {code, out.str(), err.str()};
}

inline bool has(const std::string& s, const std::string& what) { return s.find(what) != std::string::npos; }

}  // namespace testing_support
