#include "rt/inline_fn.hpp"

#include <gtest/gtest.h>

#include <array>
#include <functional>
#include <memory>
#include <string>

namespace {

TEST(InlineFn, CallsReplacesAndResets) {
  int calls = 0;
  rt::InlineFn<32, int> fn;
  EXPECT_FALSE(fn);
  fn.emplace([&calls](int x) { calls += x; });
  EXPECT_TRUE(fn);
  fn(2);
  fn(3);
  EXPECT_EQ(calls, 5);
  fn.emplace([&calls](int x) { calls -= x; });  // replaces: only the new one runs
  fn(1);
  EXPECT_EQ(calls, 4);
  fn.reset();
  EXPECT_FALSE(fn);
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
}

// The rule emplace enforces, checked on the kinds of capture users write. That a violating
// emplace really fails to compile, with its message, is tests/compile_fail (CTest).
TEST(InlineFn, StorableRuleAcceptsPlainCapturesAndRejectsOwners) {
  int x = 0;
  auto by_ref = [&x] { ++x; };
  auto by_value = [x, p = &x, a = std::array<int, 4>{}] { (void)x, (void)p, (void)a; };
  auto owns_string = [s = std::string("heap")] { (void)s; };
  auto owns_fn = [f = std::function<void()>{}] { (void)f; };
  auto owns_ptr = [p = std::make_unique<int>(1)] { (void)p; };
  static_assert(rt::InlineStorable<decltype(by_ref)>);
  static_assert(rt::InlineStorable<decltype(by_value)>);
  static_assert(!rt::InlineStorable<decltype(owns_string)>);
  static_assert(!rt::InlineStorable<decltype(owns_fn)>);
  static_assert(!rt::InlineStorable<decltype(owns_ptr)>);
  by_ref();
  EXPECT_EQ(x, 1);
}

}  // namespace
