// RtThrottleLift on a file of its own, never the machine's sysctl: -1 while it lives, what
// it found after; nothing written when there is nothing to lift or it cannot read.
#include "hal/rt_throttle.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>

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
