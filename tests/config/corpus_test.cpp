// Config files kept in the source tree: the examples must load cleanly; the fuzz corpus
// and the fuzzer's regressions must load without crashing, and a file named
// *.invalid.toml must be reported as invalid.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "cli.hpp"
#include "rtconfig/config.hpp"

namespace {

namespace fs = std::filesystem;

const fs::path kSource = RT_SOURCE_DIR;

// Sorted, so a failure names the same file every run.
std::vector<fs::path> files_in(const fs::path& dir, bool toml_only) {
  std::vector<fs::path> out;
  if (!fs::is_directory(dir)) return out;
  for (const fs::directory_entry& e : fs::directory_iterator(dir)) {
    if (!e.is_regular_file()) continue;
    if (toml_only && e.path().extension() != ".toml") continue;
    out.push_back(e.path());
  }
  std::sort(out.begin(), out.end());
  return out;
}

std::string read(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

bool ends_with(const std::string& s, std::string_view suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

std::string dump(const rt::config::LoadResult& r) {
  std::string s;
  for (const rt::config::Diagnostic& d : r.errors)
    s += d.str() + "\n";
  return s;
}

const rt::config::LoadOptions kOpts = rt::cli::load_options();

TEST(ConfigExamples, DefaultAndEveryExampleLoad) {
  const rt::config::LoadResult def = rt::config::parse(rt::config::default_text(), "<built-in>", kOpts);
  EXPECT_TRUE(def.ok()) << dump(def);
  // config/examples/ is filled by its own change; whatever is there must load.
  for (const fs::path& p : files_in(kSource / "config" / "examples", true)) {
    const rt::config::LoadResult r = rt::config::load(p, kOpts);
    EXPECT_TRUE(r.ok()) << p << "\n" << dump(r);
  }
}

// Every file the fuzzer started from or found a crash with: parse() returns, with
// well-formed diagnostics; files named *.invalid.toml must not pass.
void run_all(const fs::path& dir, bool must_have_files) {
  const std::vector<fs::path> files = files_in(dir, false);
  if (must_have_files) {
    EXPECT_FALSE(files.empty()) << dir;
  }
  for (const fs::path& p : files) {
    const rt::config::LoadResult r = rt::config::parse(read(p), p.filename().string(), kOpts);
    for (const rt::config::Diagnostic& d : r.errors) {
      EXPECT_FALSE(d.message.empty()) << p;
      EXPECT_GE(d.line, 0) << p;
      EXPECT_GE(d.column, 0) << p;
    }
    if (ends_with(p.filename().string(), ".invalid.toml")) {
      EXPECT_FALSE(r.ok()) << p << " is named invalid but loads";
    }
  }
}

TEST(ConfigFuzzFiles, SeedCorpus) { run_all(kSource / "tests" / "fuzz" / "corpus" / "config", true); }

TEST(ConfigFuzzFiles, Regressions) { run_all(kSource / "tests" / "fuzz" / "regressions" / "config", false); }

}  // namespace
