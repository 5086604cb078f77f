// hal/watchdog.hpp with a plain file standing in for /dev/watchdog: what is written to it
// is what a driver would see.
#include "hal/watchdog.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>

#include "temp_file.hpp"

namespace fs = std::filesystem;
using testing_support::TempFile;

TEST(WatchdogDevice, PetsAreBytesAndACleanCloseEndsWithTheMagicV) {
  TempFile f;
  hal::WatchdogDevice d;
  ASSERT_TRUE(d.open(f.path.string()).ok());
  EXPECT_TRUE(d.is_open());
  EXPECT_EQ(d.timeout(), 0);  // a plain file cannot say (WDIOC_GETTIMEOUT: ENOTTY)
  ASSERT_TRUE(d.pet().ok());
  ASSERT_TRUE(d.pet().ok());
  ASSERT_TRUE(d.close_cleanly().ok());
  EXPECT_FALSE(d.is_open());
  EXPECT_EQ(f.content(), std::string("\0\0V", 3));
  EXPECT_TRUE(d.close_cleanly().ok());  // once is enough
}

TEST(WatchdogDevice, ClosedWithoutACleanStopItStaysArmed) {
  TempFile f;
  {
    hal::WatchdogDevice d;
    ASSERT_TRUE(d.open(f.path.string()).ok());
    ASSERT_TRUE(d.pet().ok());
  }
  EXPECT_EQ(f.content(), std::string("\0", 1));  // no 'V': a driver would reboot the machine
}

TEST(WatchdogDevice, AMissingDeviceIsNeverCreated) {
  const fs::path p = fs::temp_directory_path() / "rtengine-no-such-watchdog";
  hal::WatchdogDevice d;
  const hal::Status st = d.open(p.string());
  EXPECT_EQ(st.err, ENOENT);
  EXPECT_FALSE(fs::exists(p));
  EXPECT_FALSE(d.is_open());
  EXPECT_EQ(d.pet().err, EBADF);
}
