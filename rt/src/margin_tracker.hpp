#pragma once
// hybrid_margin = kAutoMargin (P1, issue 18): the worker picks its own spin margin from
// how late its blocking waits return. The margin must cover the wake-up's lateness, or
// the spin starts after the release and the release is as late as a plain sleep's; every
// nanosecond more is CPU burnt. So: margin = the p99.9 lateness of recent wake-ups plus a
// guard, never more than the cap (the CPU share the user allows the spin).
//
// Recent = a window of two epochs of kEpoch wake-ups: the current epoch fills, the
// previous one is whole, so the window holds kEpoch..2*kEpoch - 1 samples and a tail
// leaves it at most 2 * kEpoch wake-ups after its last sample (the margin falls back;
// a decaying histogram would never forget it entirely, a ring would need a sort). The
// counts live in two small log-linear bucket tables owned by the worker: recording is a
// few adds, the percentile a scan of the buckets from the top, no allocation.
#include <array>
#include <bit>
#include <cstddef>
#include <cstdint>

#include "hal/annotations.hpp"
#include "rt/types.hpp"

namespace rt::detail {

class MarginTracker {
 public:
  // 8 sub-buckets per power of two: a bucket is at most 1/8 of its low value wide (the
  // percentile is the bucket's top, so it errs by < 12.5 % on the safe side); up to 2^30
  // ns (1.07 s) -- a wake-up that late saturates, any margin would be far below it.
  static constexpr int kSubBits = 3;
  static constexpr int kMaxBits = 30;
  static constexpr ns_t kMaxValue = (ns_t{1} << kMaxBits) - 1;
  static constexpr std::size_t kBuckets = static_cast<std::size_t>(kMaxBits - kSubBits + 1) << kSubBits;
  // 2048 wake-ups: at 1 kHz a window of 2-4 s, longer than the ~1 s fast and slow phases
  // of a VM (so a fast phase does not lower the margin just before the next slow one),
  // and two thousand samples make the p99.9 a few largest values rather than the max.
  static constexpr std::uint32_t kEpoch = 2048;
  // Until this many wake-ups are seen the margin is the cap: the safest the user allows.
  // After it, with fewer samples than the tail's one-in (1000), the tail is the largest
  // lateness seen: a new record beats it with probability ~1/n, and 64 keeps the cap's CPU
  // cost short (64 ms at 1 kHz) while the guard covers most small records.
  static constexpr std::uint32_t kWarmup = 64;
  // The share of the window's wake-ups the margin need not cover by default: 1 in 1000.
  static constexpr std::uint32_t kTailOneIn = 1000;

  static constexpr std::size_t bucket_of(ns_t v) noexcept {
    if (v <= 0) return 0;
    if (v > kMaxValue) v = kMaxValue;
    const auto width = static_cast<int>(std::bit_width(static_cast<std::uint64_t>(v)));
    const int shift = width > kSubBits + 1 ? width - kSubBits - 1 : 0;
    return (static_cast<std::size_t>(shift) << kSubBits) + static_cast<std::size_t>(v >> shift);
  }
  // The largest value in bucket b.
  static constexpr ns_t bucket_high(std::size_t b) noexcept {
    if (b + 1 >= kBuckets) return kMaxValue;
    const std::size_t n = b + 1;  // the next bucket's low value, minus one
    constexpr auto sub = std::size_t{1} << kSubBits;
    if (n < 2 * sub) return static_cast<ns_t>(n) - 1;
    const int shift = static_cast<int>(n >> kSubBits) - 1;
    return ((static_cast<ns_t>(sub) + static_cast<ns_t>(n & (sub - 1))) << shift) - 1;
  }

  // Setup only: `cap` is the largest margin (>= 0), `guard` what is added to the
  // percentile (>= 0), `tail_one_in` the share of wake-ups the margin need not cover (1 in
  // it, >= 1). Forgets every sample.
  void configure(ns_t cap, ns_t guard, std::uint32_t tail_one_in = kTailOneIn) noexcept;

  // One wake-up's lateness: when the blocking wait returned minus the time it asked for.
  // Moves the margin. RT: wait-free; no allocation, no syscall (a scan of kBuckets).
  void record(ns_t lateness) noexcept HAL_NONBLOCKING;

  // The margin to use now: the cap during the warm-up, then min(cap, tail + guard), the
  // tail being the p99.9 with the default one-in (the p99 with 100).
  [[nodiscard]] ns_t margin() const noexcept HAL_NONBLOCKING { return margin_; }
  // The window's tail lateness the margin is based on (0 before any sample).
  [[nodiscard]] ns_t lateness() const noexcept HAL_NONBLOCKING { return lateness_; }
  // Wake-ups in the window.
  [[nodiscard]] std::uint32_t samples() const noexcept HAL_NONBLOCKING { return n_[0] + n_[1]; }
  [[nodiscard]] ns_t cap() const noexcept HAL_NONBLOCKING { return cap_; }

 private:
  std::array<std::array<std::uint32_t, kBuckets>, 2> counts_{};  // [cur_] fills, the other is whole
  std::array<std::uint32_t, 2> n_{};
  std::size_t cur_ = 0;
  std::uint64_t seen_ = 0;  // every wake-up since configure (the warm-up)
  ns_t cap_ = 0, guard_ = 0;
  std::uint32_t tail_one_in_ = kTailOneIn;
  ns_t margin_ = 0, lateness_ = 0;
};

}  // namespace rt::detail
