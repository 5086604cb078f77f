#pragma once
// F14: the dead-letter queue. A task that exhausts its retries (F13) is recorded here with
// everything needed to run it again: its callable and its SubmitOptions. RT threads (the
// workers, the monitor) push; non-RT threads (HTTP API, CLI, tests) list, take a record
// to re-drive it, and purge. The entries come from the engine arena at setup and never
// grow: when the queue is full, the oldest record makes room and is counted.
#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <string_view>
#include <type_traits>
#include <vector>

#include "hal/annotations.hpp"
#include "rt/arena.hpp"
#include "rt/task.hpp"
#include "rt/types.hpp"

namespace rt {

// One dead task, as it was submitted and as it ended. Trivially copyable but, like its
// TaskFn, without copy operations, so a callable is only ever byte-copied on purpose:
// std::memcpy(static_cast<void*>(&to), &from, sizeof to) (the void* keeps GCC's
// -Wclass-memaccess quiet about the deleted assignment).
struct DeadLetter {
  std::uint64_t seq = 0;  // given by push(): increasing in push order; the handle for take()
  TaskId id;              // the task's id while it lived
  TypeId type = 0;
  Priority priority = Priority::Normal;
  WorkflowId workflow = 0;
  std::uint32_t attempts = 0;        // runs made
  State last_state = State::Failed;  // Failed or Timeout (or RolledBack)
  Reason last_reason = Reason::None;
  ns_t at = 0;                   // when it was dead-lettered (CLOCK_MONOTONIC)
  std::array<char, 96> error{};  // NUL-terminated, truncated (set_error)
  SubmitOptions options;         // as submitted (context, retry policy, deadline...)
  TaskFn fn;                     // the callable, byte-copied

  // Copies `text`, cut short to leave room for the NUL and never inside a UTF-8 sequence
  // (so it stays valid UTF-8 for a JSON printer); the rest of the buffer is zeroed.
  // RT: wait-free; no allocation, no syscall.
  void set_error(std::string_view text) noexcept HAL_NONBLOCKING;
  // Up to the first NUL, or the whole buffer when it holds none. RT: wait-free.
  [[nodiscard]] std::string_view error_text() const noexcept HAL_NONBLOCKING;
};
static_assert(std::is_trivially_copyable_v<DeadLetter>, "a record is stored and read back as bytes");

// A snapshot of counters read one by one: consistent only when nothing runs concurrently.
// Then size + taken + purged + dropped_oldest + dropped_contended == pushed.
struct DeadLetterStats {
  std::size_t size = 0, capacity = 0;
  std::uint64_t pushed = 0;             // push() calls
  std::uint64_t dropped_oldest = 0;     // records overwritten by newer ones before anyone took them
  std::uint64_t dropped_contended = 0;  // records push() gave up on (see push)
  std::uint64_t taken = 0, purged = 0;
};

// Each entry is a seqlock: a word holding the seq of its record and whether the entry is
// empty, live or being written, and the record as atomic words. A push takes a ticket
// (seq - 1), claims entry ticket % capacity by CAS (so it knows exactly whether it
// overwrote a live record), writes, and publishes. Readers copy an entry and check its word
// did not change meanwhile; take and purge empty an entry by CAS on its word, so a push
// that reuses the entry at the same moment wins or loses cleanly. Nobody ever waits: a
// reader skips what a pusher is writing, and a pusher never looks at readers.
class DeadLetterQueue {
 public:
  // Setup only: carves `capacity` entries from `arena` (bytes() says how much). Throws
  // std::invalid_argument when capacity is 0, std::length_error naming "dead-letter
  // entries" when the arena is short.
  DeadLetterQueue(Arena& arena, std::size_t capacity);
  DeadLetterQueue(const DeadLetterQueue&) = delete;
  DeadLetterQueue& operator=(const DeadLetterQueue&) = delete;

  // Any number of threads at once. Stores a copy of `d` under the next seq (d.seq is
  // ignored) and returns that seq. When the entry it lands on holds a record, that record
  // (the oldest) is dropped and counted in dropped_oldest. Returns 0 when the record was
  // dropped itself: a push that lost its turn for a full lap of the ring (preempted
  // between taking its ticket and claiming, while `capacity` newer pushes went by) finds
  // a newer record in its entry, and its own is then the oldest (dropped_oldest); a push
  // whose every entry tried is being written by a push from an earlier lap gives up after
  // kMaxTickets (dropped_contended; only with fewer entries than pushers writing at once).
  // Seqs skipped by such a push are never used: seqs increase, with gaps under contention.
  // RT: lock-free (a CAS retried only when another push or a take/purge changed that
  // entry; at most kMaxTickets tickets); no allocation, no syscall; copies the record
  // (448 bytes on x86_64).
  std::uint64_t push(const DeadLetter& d) noexcept HAL_NONBLOCKING;

  // Not RT (allocates). Up to `limit` records, oldest first, skipping the `offset` oldest.
  // A record being written is not listed yet; one taken or overwritten between the scan
  // and the copy is left out, so a page can come out short under concurrent pushes.
  [[nodiscard]] std::vector<DeadLetter> list(std::size_t limit = 100, std::size_t offset = 0) const;
  // Removes the record `seq` and copies it to `out` (to re-drive it: resubmit with fresh
  // attempts; the engine also takes back a record whose task a cancel() ended first).
  // False when it is gone (dropped, taken, purged) or never was; `out` is then untouched.
  // Two takes of one record: exactly one gets it. RT: wait-free; no allocation, no syscall.
  bool take(std::uint64_t seq, DeadLetter& out) noexcept HAL_NONBLOCKING;
  // Not RT by intent (lock-free). Removes every record it finds and returns how many; a
  // record pushed while it runs may stay.
  std::size_t purge() noexcept;

  [[nodiscard]] DeadLetterStats stats() const noexcept;
  // Live records; scans the entries (O(capacity)).
  [[nodiscard]] std::size_t size() const noexcept;
  [[nodiscard]] std::size_t capacity() const noexcept { return capacity_; }

  // The arena bytes a queue of `capacity` takes, alignment included, so the engine can
  // size its arena.
  [[nodiscard]] static constexpr std::size_t bytes(std::size_t capacity) noexcept {
    return capacity * sizeof(Entry) + alignof(Entry);
  }

  // A push tries at most this many tickets when each entry it lands on is still being
  // written by a push from an earlier lap. Bounds a push at 8 claims; needing more means
  // the ring is smaller than the number of pushes in flight, which dropped_contended shows.
  static constexpr int kMaxTickets = 8;

 private:
  static constexpr std::size_t kWords = sizeof(DeadLetter) / sizeof(std::uint64_t);
  static_assert(sizeof(DeadLetter) % sizeof(std::uint64_t) == 0, "a record is copied as whole words");
  using Words = std::array<std::uint64_t, kWords>;

  // The record is held as atomic words: a reader copying it while a pusher overwrites it
  // races on atomics only, and the word tells it the copy is stale; ThreadSanitizer checks
  // that as is, without suppressions. alignas: pushers writing neighbouring entries must
  // not share a cache line.
  struct alignas(hal::kCacheLine) Entry {
    std::atomic<std::uint64_t> word{0};  // seq << 2 | kEmpty, kLive or kBusy
    std::array<std::atomic<std::uint64_t>, kWords> payload{};
  };
  static_assert(std::atomic<std::uint64_t>::is_always_lock_free, "push must not fall back to a lock");

  static void write_payload(Entry& e, const DeadLetter& d) noexcept HAL_NONBLOCKING;
  static void read_payload(const Entry& e, Words& out) noexcept HAL_NONBLOCKING;

  // What every push touches, on one line: the entries' place (read-only after setup) and
  // the pushers' counters. The readers' counters have a line of their own.
  alignas(hal::kCacheLine) std::atomic<std::uint64_t> ticket_{0};
  Entry* entries_;
  std::size_t capacity_;
  std::atomic<std::uint64_t> pushed_{0};
  std::atomic<std::uint64_t> dropped_oldest_{0};
  std::atomic<std::uint64_t> dropped_contended_{0};
  alignas(hal::kCacheLine) std::atomic<std::uint64_t> taken_{0};
  std::atomic<std::uint64_t> purged_{0};
};

}  // namespace rt
