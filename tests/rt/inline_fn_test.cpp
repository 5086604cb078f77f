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
  auto by_value = [x, p = &x, a = std::array<int, 4>{1, 2, 3, 4}] { return x + *p + a[3]; };
  static_assert(rt::InlineStorable<decltype(by_ref)>);
  static_assert(rt::InlineStorable<decltype(by_value)>);
  // The closure types of captures that own heap memory, spelled as the closures are laid
  // out (a lambda capturing one of these is such a class).
  struct OwnsString {
    std::string s;
    void operator()() const {}
  };
  struct OwnsFunction {
    std::function<void()> f;
    void operator()() const {}
  };
  struct OwnsPointer {
    std::unique_ptr<int> p;
    void operator()() const {}
  };
  static_assert(!rt::InlineStorable<OwnsString>);
  static_assert(!rt::InlineStorable<OwnsFunction>);
  static_assert(!rt::InlineStorable<OwnsPointer>);
  // And they really go through InlineFn: the reference sees the caller's variable, the
  // copies keep what they captured.
  rt::InlineFn<64> ref_fn;
  ref_fn.emplace(by_ref);
  ref_fn();
  EXPECT_EQ(x, 1);
  int out = 0;
  rt::InlineFn<64> value_fn;
  value_fn.emplace([by_value, &out] { out = by_value(); });
  value_fn();
  EXPECT_EQ(out, 0 + 1 + 4);  // x as captured (0), *p as now (1), a[3]
}

}  // namespace
