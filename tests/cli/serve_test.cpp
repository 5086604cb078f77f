// The run command's HTTP front: where its threads go, where its token comes from.
#include "serve.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "hal/cpu.hpp"

namespace {

using rt::cli::housekeeping_cpus;
using rt::cli::is_loopback;
using rt::cli::resolve_token;

TEST(Loopback, OnlyAddressesThisMachineAloneCanReach) {
  for (const char* a : {"127.0.0.1", "127.1.2.3", "::1", "::ffff:127.0.0.1", "localhost"})
    EXPECT_TRUE(is_loopback(a)) << a;
  for (const char* a : {"0.0.0.0", "::", "10.0.0.5", "128.0.0.1", "::ffff:10.0.0.1", "device.local", ""})
    EXPECT_FALSE(is_loopback(a)) << a;
}

TEST(HousekeepingCpus, NothingPinnedLeavesTheServerUnpinned) {
  rt::config::AppConfig c;
  c.engine.workers = {rt::WorkerConfig{}, rt::WorkerConfig{}};
  EXPECT_TRUE(housekeeping_cpus(c).empty());
}

TEST(HousekeepingCpus, KeepsOffEveryPinnedEngineThread) {
  const std::vector<int> online = hal::read_cpu_info().online;
  if (online.size() < 3) GTEST_SKIP() << "needs 3 online CPUs, this machine has " << online.size();
  rt::config::AppConfig c;
  c.engine.workers = {rt::WorkerConfig{.cpu = online[0]}};
  c.engine.monitor.cpu = online[1];
  const std::vector<int> got = housekeeping_cpus(c);
  EXPECT_EQ(got, std::vector<int>(online.begin() + 2, online.end()));
}

TEST(HousekeepingCpus, WhenEveryCpuIsTakenKeepsOffTheLoopsCpus) {
  const std::vector<int> online = hal::read_cpu_info().online;
  if (online.size() < 2) GTEST_SKIP() << "needs 2 online CPUs, this machine has " << online.size();
  rt::config::AppConfig c;
  c.engine.workers.clear();
  for (const int cpu : online)
    c.engine.workers.push_back(rt::WorkerConfig{.cpu = cpu});
  rt::config::PeriodicDecl loop;
  loop.spec.worker = 1;  // the loop runs on the second worker, pinned to online[1]
  c.periodic.push_back(loop);
  std::vector<int> got = housekeeping_cpus(c);
  EXPECT_EQ(std::count(got.begin(), got.end(), online[1]), 0);
  EXPECT_EQ(got.size(), online.size() - 1);
  // worker = -1: the first worker serving the loop's priority, here the first one.
  c.periodic[0].spec.worker = -1;
  got = housekeeping_cpus(c);
  EXPECT_EQ(std::count(got.begin(), got.end(), online[0]), 0);
}

class Token : public ::testing::Test {
 protected:
  void SetUp() override { unsetenv("RTENGINE_HTTP_TOKEN"); }
  void TearDown() override {
    unsetenv("RTENGINE_HTTP_TOKEN");
    std::filesystem::remove(file_);
  }
  std::filesystem::path file_ = std::filesystem::temp_directory_path() / ("rt-token-" + std::to_string(getpid()));
};

TEST_F(Token, NoneConfigured) { EXPECT_EQ(resolve_token({}), ""); }

TEST_F(Token, TheFilesFirstLineWithoutItsLineEnd) {
  { std::ofstream(file_) << "s3cret \r\nsecond line\n"; }
  rt::config::HttpSettings h;
  h.token_file = file_.string();
  EXPECT_EQ(resolve_token(h), "s3cret");
}

TEST_F(Token, TheConfigsTokenWinsOverTheFileAndTheEnvironmentOverBoth) {
  { std::ofstream(file_) << "from-file\n"; }
  rt::config::HttpSettings h;
  h.token = "from-config";
  h.token_file = file_.string();
  EXPECT_EQ(resolve_token(h), "from-config");
  setenv("RTENGINE_HTTP_TOKEN", "from-env", 1);
  EXPECT_EQ(resolve_token(h), "from-env");
}

TEST_F(Token, AnUnreadableOrEmptyFileIsAnErrorNamingIt) {
  rt::config::HttpSettings h;
  h.token_file = (file_ / "missing").string();
  EXPECT_THROW(
      {
        try {
          (void)resolve_token(h);
        } catch (const std::runtime_error& e) {
          EXPECT_NE(std::string(e.what()).find(h.token_file), std::string::npos) << e.what();
          throw;
        }
      },
      std::runtime_error);
  { std::ofstream(file_) << "\n"; }
  h.token_file = file_.string();
  EXPECT_THROW((void)resolve_token(h), std::runtime_error);
}

}  // namespace
