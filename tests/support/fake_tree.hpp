#pragma once
// A throw-away folder laid out like / (proc/..., sys/...), for the readers in hal/ that
// take a root folder.
#include <filesystem>
#include <string>
#include <string_view>

namespace testing_support {

class FakeTree {
 public:
  FakeTree();
  ~FakeTree();
  FakeTree(const FakeTree&) = delete;
  FakeTree& operator=(const FakeTree&) = delete;

  // Writes `content` to root/rel, creating folders.
  void write(std::string_view rel, std::string_view content) const;
  void remove(std::string_view rel) const;
  [[nodiscard]] const std::filesystem::path& root() const noexcept { return root_; }

  // A process on a PREEMPT_RT kernel with every right and no throttling, 4 CPUs with
  // 2-3 isolated, performance governor, SMT off.
  static void make_rt_machine(const FakeTree& t);
  // A stock Debian-like PREEMPT_DYNAMIC kernel, unprivileged user: RLIMIT_RTPRIO 0,
  // RLIMIT_MEMLOCK 8 MiB, throttling on, SMT on, schedutil, no isolation.
  static void make_stock_machine(const FakeTree& t);

 private:
  std::filesystem::path root_;
};

}  // namespace testing_support
