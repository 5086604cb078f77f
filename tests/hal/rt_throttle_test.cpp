// RtThrottleLift on a file of its own, never the machine's sysctl: -1 while it lives, what
// it found after; nothing written when there is nothing to lift or it cannot read.
#include "hal/rt_throttle.hpp"

#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>

namespace {

class RtThrottleFile : public testing::Test {
 protected:
  void SetUp() override {
    path_ = (std::filesystem::temp_directory_path() / ("rt_runtime_" + std::to_string(::getpid()))).string();
  }
  void TearDown() override { std::filesystem::remove(path_); }
  void put(const std::string& text) { std::ofstream(path_) << text; }
  std::string path_;
};

TEST_F(RtThrottleFile, LiftsWhileItLivesAndPutsBackWhatItFound) {
  put("950000\n");
  {
    const hal::RtThrottleLift lift(path_);
    EXPECT_TRUE(lift.lifted());
    EXPECT_TRUE(lift.status().ok()) << lift.status().message();
    EXPECT_EQ(lift.found(), 950000);
    EXPECT_EQ(hal::read_rt_runtime_us(path_), -1);
  }
  EXPECT_EQ(hal::read_rt_runtime_us(path_), 950000);
}

// The owner dies without its destructor (as by SIGKILL): the restorer still writes back.
TEST_F(RtThrottleFile, AKilledOwnerStillPutsItBack) {
  put("950000\n");
  const pid_t owner = ::fork();
  ASSERT_GE(owner, 0);
  if (owner == 0) {
    const hal::RtThrottleLift lift(path_);
    ::_exit(lift.lifted() && hal::read_rt_runtime_us(path_) == -1 ? 0 : 1);  // no destructor runs
  }
  int status = -1;
  ASSERT_EQ(::waitpid(owner, &status, 0), owner);
  ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << "the owner did not lift it";
  // The restorer (the owner's child, now init's) writes back once it sees the pipe close.
  bool back = false;
  for (int i = 0; i < 500 && !back; ++i) {
    back = hal::read_rt_runtime_us(path_) == 950000;
    if (!back) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  EXPECT_TRUE(back) << "still " << hal::read_rt_runtime_us(path_).value_or(-2);
}

// Changed by someone else while lifted: their value stays.
TEST_F(RtThrottleFile, AnotherChangeMeanwhileIsKept) {
  put("950000\n");
  {
    const hal::RtThrottleLift lift(path_);
    ASSERT_TRUE(lift.lifted());
    put("900000\n");
  }
  EXPECT_EQ(hal::read_rt_runtime_us(path_), 900000);
}

TEST_F(RtThrottleFile, AlreadyOffIsLeftAlone) {
  put("-1\n");
  {
    const hal::RtThrottleLift lift(path_);
    EXPECT_FALSE(lift.lifted());
    EXPECT_TRUE(lift.status().ok());
    put("123\n");  // had it written back, this would be -1 again after
  }
  EXPECT_EQ(hal::read_rt_runtime_us(path_), 123);
}

TEST_F(RtThrottleFile, UnreadableOrNotANumberSaysSoAndWritesNothing) {
  const hal::RtThrottleLift missing(path_ + ".none");
  EXPECT_FALSE(missing.lifted());
  EXPECT_FALSE(missing.status().ok());
  EXPECT_FALSE(std::filesystem::exists(path_ + ".none"));
  put("lots\n");
  const hal::RtThrottleLift garbage(path_);
  EXPECT_FALSE(garbage.lifted());
  EXPECT_FALSE(garbage.status().ok());
  std::ifstream f(path_);
  std::string text;
  std::getline(f, text);
  EXPECT_EQ(text, "lots");
}

// A procfs file with no write operation refuses even root: an integer that reads fine
// and cannot be written, as the sysctl is for a process without CAP_SYS_ADMIN.
TEST(RtThrottle, ARefusedWriteIsReportedNotLifted) {
  const std::string path = "/proc/self/oom_score";
  const auto before = hal::read_rt_runtime_us(path);
  ASSERT_TRUE(before.has_value());
  const hal::RtThrottleLift lift(path);
  EXPECT_FALSE(lift.lifted());
  EXPECT_FALSE(lift.status().ok());
  EXPECT_NE(lift.status().message().find("sched_rt_runtime_us"), std::string::npos) << lift.status().message();
}

}  // namespace
