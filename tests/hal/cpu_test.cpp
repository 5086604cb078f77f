#include "hal/cpu.hpp"

#include <gtest/gtest.h>

#include <cstring>
#include <fstream>
#include <iterator>
#include <stdexcept>

#include "fake_tree.hpp"

namespace {

using testing_support::FakeTree;
using V = std::vector<int>;

TEST(CpuList, ParsesTheKernelSyntax) {
  EXPECT_EQ(hal::parse_cpu_list("0-3,8,10-11"), (V{0, 1, 2, 3, 8, 10, 11}));
  EXPECT_EQ(hal::parse_cpu_list(" 5\n"), V{5});
  EXPECT_EQ(hal::parse_cpu_list("3,1,1-2"), (V{1, 2, 3}));  // sorted, no duplicates
  EXPECT_TRUE(hal::parse_cpu_list("").empty());
  EXPECT_TRUE(hal::parse_cpu_list("\n").empty());
  EXPECT_TRUE(hal::parse_cpu_list("(null)\n").empty());  // nohz_full on kernels without it
}

TEST(CpuList, BadInputNamesTheToken) {
  try {
    (void)hal::parse_cpu_list("0-3,x");
    FAIL() << "expected invalid_argument";
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("'x'"), std::string::npos) << e.what();
  }
  EXPECT_THROW((void)hal::parse_cpu_list("3-1"), std::invalid_argument);
  EXPECT_THROW((void)hal::parse_cpu_list("1,,2"), std::invalid_argument);
  EXPECT_THROW((void)hal::parse_cpu_list("-1"), std::invalid_argument);
}

TEST(CpuList, FormatRoundTrips) {
  for (const char* text : {"0-3,8,10-11", "0", "1,3,5", "0-127"}) {
    EXPECT_EQ(hal::format_cpu_list(hal::parse_cpu_list(text)), text);
  }
  EXPECT_EQ(hal::format_cpu_list({}), "");
}

TEST(CpuInfo, ReadsAnRtMachine) {
  FakeTree t;
  FakeTree::make_rt_machine(t);
  const hal::CpuInfo info = hal::read_cpu_info(t.root());
  EXPECT_EQ(info.online, (V{0, 1, 2, 3}));
  EXPECT_EQ(info.isolated, (V{2, 3}));
  EXPECT_EQ(info.nohz_full, (V{2, 3}));
  EXPECT_EQ(info.smt_active, 0);
  ASSERT_EQ(info.governors.size(), 4u);
  EXPECT_EQ(info.governors[2].second, "performance");
  EXPECT_EQ(info.clocksource, "arch_sys_counter");
}

TEST(CpuInfo, FallsBackToTheCommandLineForIsolation) {
  FakeTree t;
  FakeTree::make_rt_machine(t);
  t.remove("sys/devices/system/cpu/isolated");  // kernels before 4.2 lack the file
  t.remove("sys/devices/system/cpu/nohz_full");
  const hal::CpuInfo info = hal::read_cpu_info(t.root());
  EXPECT_EQ(info.isolated, (V{2, 3}));  // flags before the list are skipped
  EXPECT_EQ(info.nohz_full, (V{2, 3}));
}

TEST(CpuInfo, MissingFilesMeanUnknownNotACrash) {
  FakeTree t;
  const hal::CpuInfo info = hal::read_cpu_info(t.root());
  EXPECT_TRUE(info.online.empty());
  EXPECT_TRUE(info.governors.empty());
  EXPECT_EQ(info.smt_active, -1);
  EXPECT_TRUE(info.clocksource.empty());
}

TEST(CpuInfo, ThisMachineHasOnlineCpus) {
  const hal::CpuInfo info = hal::read_cpu_info();
  EXPECT_FALSE(info.online.empty());
}

TEST(DmaLatency, WritesTheBinaryTargetAndHoldsIt) {
  FakeTree t;
  t.write("dev/cpu_dma_latency", "");
  const auto dev = t.root() / "dev/cpu_dma_latency";
  {
    hal::DmaLatencyRequest req;
    ASSERT_TRUE(req.request(7, dev).ok());
    EXPECT_TRUE(req.active());
    std::ifstream in(dev, std::ios::binary);
    std::string bytes((std::istreambuf_iterator<char>(in)), {});
    ASSERT_EQ(bytes.size(), sizeof(std::int32_t));
    std::int32_t v = 0;
    std::memcpy(&v, bytes.data(), sizeof v);
    EXPECT_EQ(v, 7);
  }
}

TEST(DmaLatency, MissingDeviceIsAStatusNamingTheCall) {
  FakeTree t;
  hal::DmaLatencyRequest req;
  const hal::Status s = req.request(0, t.root() / "dev/cpu_dma_latency");
  EXPECT_EQ(s.err, ENOENT);
  EXPECT_STREQ(s.op, "open(cpu_dma_latency)");
  EXPECT_FALSE(req.active());
}

}  // namespace
