// `rtengine validate` and `rtengine config --defaults`, through the in-process CLI.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "cli.hpp"
#include "cli_run.hpp"
#include "rtconfig/config.hpp"

namespace {

namespace fs = std::filesystem;

using testing_support::CliRun;
CliRun run(const std::vector<std::string>& args) { return testing_support::run_cli(args); }

using testing_support::has;

// A file named after the running test: ctest runs tests as parallel processes.
class TempConfig {
 public:
  explicit TempConfig(const std::string& text) {
    const ::testing::TestInfo* t = ::testing::UnitTest::GetInstance()->current_test_info();
    path_ = fs::path(::testing::TempDir()) / (std::string("rt_cli_") + t->name() + ".toml");
    std::ofstream(path_, std::ios::binary) << text;
  }
  ~TempConfig() {
    std::error_code ec;
    fs::remove(path_, ec);
  }
  TempConfig(const TempConfig&) = delete;
  TempConfig& operator=(const TempConfig&) = delete;
  [[nodiscard]] std::string path() const { return path_.string(); }

 private:
  fs::path path_;
};

TEST(CliValidate, GoodFileSummarises) {
  const TempConfig f{std::string(rt::config::default_text())};
  const CliRun r = run({"validate", f.path()});
  EXPECT_EQ(r.code, rt::cli::kExitOk) << r.err;
  EXPECT_EQ(r.out, f.path() + ": ok: 2 workers, 1 periodic tasks, 1 workflows, 0 sagas, 3 task types\n");
  EXPECT_TRUE(r.err.empty()) << r.err;
}

TEST(CliValidate, EveryErrorAsFileLineColumn) {
  const TempConfig f(R"([run]
stop = "drian"

[http]
port = -1

[[periodic]]
name = "m"
handler = "motor_pid"
perod = "1ms"
)");
  const CliRun r = run({"validate", f.path()});
  EXPECT_EQ(r.code, rt::cli::kExitFailed);
  EXPECT_TRUE(r.out.empty()) << r.out;
  std::vector<std::string> lines;
  std::istringstream in(r.err);
  for (std::string l; std::getline(in, l);)
    lines.push_back(l);
  ASSERT_EQ(lines.size(), 4U) << r.err;
  EXPECT_EQ(lines[0].rfind(f.path() + ":2:8: run.stop: ", 0), 0U) << lines[0];
  EXPECT_EQ(lines[1].rfind(f.path() + ":5:8: http.port: ", 0), 0U) << lines[1];
  EXPECT_EQ(lines[2].rfind(f.path() + ":10:1: periodic[0].perod: ", 0), 0U) << lines[2];
  EXPECT_TRUE(has(lines[2], "did you mean 'period'?")) << lines[2];
  EXPECT_EQ(lines[3], f.path() + ": 3 errors");
}

// The loader cannot know the engine's arena arithmetic: the dry run does.
TEST(CliValidate, WhatRunWouldRefuseIsAnErrorToo) {
  const TempConfig f{std::string("[engine]\narena_bytes = 4096\n")};
  const CliRun r = run({"validate", f.path()});
  EXPECT_EQ(r.code, rt::cli::kExitFailed);
  EXPECT_TRUE(has(r.err, f.path() + ": engine arena exhausted")) << r.err;
  EXPECT_TRUE(r.out.empty()) << r.out;
}

TEST(CliValidate, MissingFile) {
  const CliRun r = run({"validate", "/nonexistent/rtengine/missing.toml"});
  EXPECT_EQ(r.code, rt::cli::kExitFailed);
  EXPECT_TRUE(has(r.err, "/nonexistent/rtengine/missing.toml: cannot open")) << r.err;
  EXPECT_TRUE(has(r.err, ": 1 error\n")) << r.err;
}

TEST(CliConfig, DefaultsParseBackAndAreTheEmbeddedText) {
  const CliRun r = run({"config", "--defaults"});
  EXPECT_EQ(r.code, rt::cli::kExitOk) << r.err;
  EXPECT_EQ(r.out, rt::config::default_text());
  const rt::config::LoadResult back = rt::config::parse(r.out, "defaults.toml", rt::cli::load_options());
  EXPECT_TRUE(back.ok()) << (back.errors.empty() ? "" : back.errors[0].str());
}

}  // namespace
