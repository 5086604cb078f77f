#include "rt/inline_fn.hpp"

#include <gtest/gtest.h>

#include <array>
#include <memory>

namespace {

// Counts constructions and destructions, so storage bugs show as a leak or a double free.
struct Tracker {
  static inline int live = 0;
  int* calls;
  explicit Tracker(int* c) : calls(c) { ++live; }
  Tracker(const Tracker& o) : calls(o.calls) { ++live; }
  Tracker(Tracker&& o) noexcept : calls(o.calls) { ++live; }
  ~Tracker() { --live; }
  void operator()(int x) const { *calls += x; }
};

TEST(InlineFn, CallsAndDestroysInPlace) {
  int calls = 0;
  {
    rt::InlineFn<32, int> fn;
    EXPECT_FALSE(fn);
    fn.emplace(Tracker(&calls));
    EXPECT_EQ(Tracker::live, 1);
    fn(2);
    fn(3);
    EXPECT_EQ(calls, 5);
    fn.emplace(Tracker(&calls));  // replaces: the first is destroyed
    EXPECT_EQ(Tracker::live, 1);
    fn.reset();
    EXPECT_EQ(Tracker::live, 0);
    EXPECT_FALSE(fn);
    fn.emplace(Tracker(&calls));
  }
  EXPECT_EQ(Tracker::live, 0);  // the destructor resets
}

TEST(InlineFn, HoldsCapturesUpToItsCapacity) {
  std::array<long, 8> big{1, 2, 3, 4, 5, 6, 7, 8};
  long sum = 0;
  rt::InlineFn<72, long&> fn;  // 8 longs + the reference
  fn.emplace([big](long& out) {
    for (long v : big)
      out += v;
  });
  fn(sum);
  EXPECT_EQ(sum, 36);
  // A capture one byte too large is a compile error (static_assert in emplace), which
  // a test cannot show at run time; the engine's kTaskFnCapacity is fixed at 64.
  static_assert(rt::InlineFn<64>::kCapacity == 64);
}

}  // namespace
