// F25: a loop's hybrid margin in the config: a duration or "auto" (the worker measures
// its wake-ups, PeriodicSpec::kAutoMargin), the auto margin's cap and guard, on
// [[periodic]] and on periodic workflows; each error at its file:line:column and key.
#include <gtest/gtest.h>

#include <string>

#include "cli.hpp"
#include "rtconfig/config.hpp"

namespace {

using rt::config::LoadResult;

LoadResult parse(const std::string& text) { return rt::config::parse(text, "test.toml", rt::cli::load_options()); }

std::string loop(const std::string& keys) {
  return "[[periodic]]\nname = \"m\"\nhandler = \"motor_pid\"\nperiod = \"1ms\"\nprecision = \"hybrid\"\n" + keys;
}

// Exactly one error, at line:column, on `key`, whose message holds `words`.
void expect_one(const LoadResult& r, int line, int column, const std::string& key, const std::string& words) {
  ASSERT_EQ(r.errors.size(), 1U);
  const rt::config::Diagnostic& d = r.errors[0];
  EXPECT_EQ(d.file, "test.toml");
  EXPECT_EQ(d.line, line) << d.str();
  EXPECT_EQ(d.column, column) << d.str();
  EXPECT_EQ(d.key, key) << d.str();
  EXPECT_NE(d.message.find(words), std::string::npos) << d.str();
}

TEST(ConfigHybridMargin, AutoWithItsCapAndGuard) {
  LoadResult r = parse(loop("hybrid_margin = \"auto\"\nhybrid_margin_cap = 0.3\nhybrid_margin_guard = \"15us\"\n"));
  ASSERT_TRUE(r.ok()) << r.errors[0].str();
  const rt::PeriodicSpec& s = r.config.periodic[0].spec;
  EXPECT_EQ(s.hybrid_margin, rt::kAutoMargin);
  EXPECT_DOUBLE_EQ(s.hybrid_margin_cap, 0.3);
  EXPECT_EQ(s.hybrid_margin_guard, 15 * hal::kNsPerUs);
  // Without them, PeriodicSpec's defaults; a duration stays a fixed margin.
  r = parse(loop("hybrid_margin = \"auto\"\n"));
  ASSERT_TRUE(r.ok()) << r.errors[0].str();
  EXPECT_EQ(r.config.periodic[0].spec.hybrid_margin, rt::kAutoMargin);
  EXPECT_DOUBLE_EQ(r.config.periodic[0].spec.hybrid_margin_cap, rt::PeriodicSpec{}.hybrid_margin_cap);
  EXPECT_EQ(r.config.periodic[0].spec.hybrid_margin_guard, rt::PeriodicSpec{}.hybrid_margin_guard);
  r = parse(loop("hybrid_margin = \"150us\"\n"));
  ASSERT_TRUE(r.ok()) << r.errors[0].str();
  EXPECT_EQ(r.config.periodic[0].spec.hybrid_margin, 150 * hal::kNsPerUs);
}

TEST(ConfigHybridMargin, APeriodicWorkflowTakesAutoToo) {
  const LoadResult r = parse(
      "[[graph]]\nname = \"g\"\nperiod = \"2ms\"\nprecision = \"hybrid\"\nhybrid_margin = \"auto\"\n"
      "hybrid_margin_cap = 0.1\n[[graph.node]]\nname = \"n\"\nhandler = \"work\"\n");
  ASSERT_TRUE(r.ok()) << r.errors[0].str();
  EXPECT_EQ(r.config.graphs[0].hybrid_margin, rt::kAutoMargin);
  EXPECT_DOUBLE_EQ(r.config.graphs[0].hybrid_margin_cap, 0.1);
}

TEST(ConfigHybridMargin, ErrorsNameTheKeyAndPlace) {
  expect_one(parse(loop("hybrid_margin = \"Auto\"\n")), 6, 17, "periodic[0].hybrid_margin",
             "expected \"auto\" or a duration");
  EXPECT_NE(parse(loop("hybrid_margin = \"Auto\"\n")).errors[0].message.find("did you mean \"auto\""),
            std::string::npos);
  expect_one(parse(loop("hybrid_margin = 100\n")), 6, 17, "periodic[0].hybrid_margin", "the integer 100");
  for (const char* cap : {"0", "1", "1.5", "-0.1", "\"25%\""})
    expect_one(parse(loop(std::string("hybrid_margin = \"auto\"\nhybrid_margin_cap = ") + cap + "\n")), 7, 21,
               "periodic[0].hybrid_margin_cap", "expected");
  expect_one(parse(loop("hybrid_margin = \"auto\"\nhybrid_margin_cap = 1\n")), 7, 21, "periodic[0].hybrid_margin_cap",
             "0 < cap < 1");
  expect_one(parse(loop("hybrid_margin = \"auto\"\nhybrid_margin_guard = \"1ms\"\n")), 1, 1,
             "periodic[0].hybrid_margin_guard", "expected less than the period (1ms), found 1ms");
  expect_one(parse(loop("hybrid_margin_gaurd = \"1us\"\n")), 6, 1, "periodic[0].hybrid_margin_gaurd",
             "did you mean 'hybrid_margin_guard'");
}

}  // namespace
