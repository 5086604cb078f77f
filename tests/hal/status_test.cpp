#include "hal/status.hpp"

#include <gtest/gtest.h>

namespace {

TEST(Status, DefaultIsOk) {
  constexpr hal::Status s;
  static_assert(s.ok());
  EXPECT_TRUE(static_cast<bool>(s));
  EXPECT_EQ(s.message(), "ok");
}

TEST(Status, MessageNamesTheCallTheErrorAndItsName) {
  const hal::Status s{EPERM, "mlockall"};
  EXPECT_FALSE(s.ok());
  EXPECT_EQ(s.message(), "mlockall: Operation not permitted (EPERM)");
}

TEST(Status, NegativeErrnoConvention) {
  EXPECT_TRUE(hal::neg_errno_status(0, "io_uring_submit").ok());
  EXPECT_TRUE(hal::neg_errno_status(3, "io_uring_submit").ok());
  const hal::Status s = hal::neg_errno_status(-ENOSYS, "io_uring_setup");
  EXPECT_EQ(s.err, ENOSYS);
  EXPECT_STREQ(s.op, "io_uring_setup");
}

TEST(Status, ErrnoStatusNeverReportsSuccessForAFailure) {
  errno = 0;  // a caller that forgot errno still gets a failure
  EXPECT_FALSE(hal::errno_status("read").ok());
  errno = EAGAIN;
  EXPECT_EQ(hal::errno_status("read").err, EAGAIN);
}

}  // namespace
