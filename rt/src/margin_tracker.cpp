// The auto hybrid margin's tracker (margin_tracker.hpp): two epochs of bucket counts and
// the p99.9 read from their sum.
#include "margin_tracker.hpp"

#include <algorithm>

namespace rt::detail {

void MarginTracker::configure(ns_t cap, ns_t guard, std::uint32_t tail_one_in) noexcept {
  tail_one_in_ = std::max<std::uint32_t>(tail_one_in, 1);
  for (auto& c : counts_)
    c.fill(0);
  n_ = {};
  cur_ = 0;
  seen_ = 0;
  cap_ = std::max<ns_t>(cap, 0);
  guard_ = std::max<ns_t>(guard, 0);
  margin_ = cap_;
  lateness_ = 0;
}

void MarginTracker::record(ns_t lateness) noexcept HAL_NONBLOCKING {
  if (n_[cur_] == kEpoch) {  // the current epoch is whole: it becomes the previous one
    cur_ ^= 1U;
    counts_[cur_].fill(0);
    n_[cur_] = 0;
  }
  ++counts_[cur_][bucket_of(lateness)];
  ++n_[cur_];
  ++seen_;
  // The rank-th largest lateness of the window, counted from the top: 1 in tail_one_in_
  // may lie above it (with fewer than tail_one_in_ samples, the largest).
  const std::uint32_t rank = (samples() + tail_one_in_ - 1) / tail_one_in_;
  std::uint32_t above = 0;
  std::size_t b = kBuckets;
  while (b > 0) {
    --b;
    above += counts_[0][b] + counts_[1][b];
    if (above >= rank) break;
  }
  lateness_ = bucket_high(b);
  margin_ = seen_ < kWarmup ? cap_ : std::min(cap_, lateness_ + guard_);
}

}  // namespace rt::detail
