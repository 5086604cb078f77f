// F14: the dead-letter queue, alone: behaviour on one thread, then pushers racing a reader
// that lists, takes and purges (TSan runs it too). push() allocating would be caught by the
// rtsan preset: it is HAL_NONBLOCKING, so RealtimeSanitizer aborts on a malloc inside it.
#include "rt/dead_letter.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <cstddef>
#include <cstring>
#include <limits>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

namespace {

using rt::DeadLetter;
using rt::DeadLetterQueue;

// Calls a record's callable the way a worker would.
void call(rt::TaskFn& fn) {
  std::atomic<std::uint64_t> stop{0};
  const rt::Context ctx{};
  rt::TaskContext tc(rt::TaskId{}, stop, 1, ctx, 0, 0);
  fn(tc);
}

// Every field (and, through the zeroed start, every padding byte) is a function of
// (who, i), so a record read back can be compared byte for byte with a rebuild: a copy
// torn between two records cannot pass.
void make_record(DeadLetter& d, std::uint32_t who, std::uint32_t i, std::atomic<std::uint64_t>* calls) {
  std::memset(static_cast<void*>(&d), 0, sizeof d);
  const std::uint64_t k = (std::uint64_t{who} << 32) | i;
  d.id = rt::TaskId{who, i + 1};
  d.type = static_cast<rt::TypeId>(i);
  d.priority = static_cast<rt::Priority>(i % rt::kClassCount);
  d.workflow = i * 7 + who;
  d.attempts = i % 5 + 1;
  d.last_state = i % 2 == 0 ? rt::State::Failed : rt::State::Timeout;
  d.last_reason = i % 2 == 0 ? rt::Reason::Exception : rt::Reason::DeadlineMissed;
  d.at = static_cast<rt::ns_t>(k * 3 + 1);
  d.set_error("pusher " + std::to_string(who) + " item " + std::to_string(i) + std::string(i % 90, 'x'));
  d.options.priority = d.priority;
  d.options.deadline_in = static_cast<rt::ns_t>(k);
  // Field by field, not from a temporary: a temporary's padding bytes are indeterminate
  // (ASan builds leave them non-zero), and the records are compared byte for byte.
  d.options.retry.strategy = rt::RetryStrategy::Exponential;
  d.options.retry.max_retries = i % 4;
  d.options.retry.initial_delay = 1000;
  d.options.context.user_id = k;
  d.options.context.session_id = ~k;
  for (std::size_t b = 0; b < d.options.context.params.size(); ++b)
    d.options.context.params[b] = static_cast<unsigned char>(k * 31 + b);
  d.fn.emplace([calls, k](rt::TaskContext&) { calls->fetch_add(k + 1, std::memory_order_relaxed); });
}

// Byte for byte, but for seq (the queue's).
bool same_record(const DeadLetter& a, const DeadLetter& b) {
  constexpr std::size_t kSkip = sizeof(std::uint64_t);
  static_assert(offsetof(DeadLetter, seq) == 0);
  return std::memcmp(reinterpret_cast<const unsigned char*>(&a) + kSkip,
                     reinterpret_cast<const unsigned char*>(&b) + kSkip, sizeof a - kSkip) == 0;
}

bool intact(const DeadLetter& got, std::atomic<std::uint64_t>* calls) {
  DeadLetter want;
  make_record(want, got.id.index, got.id.generation - 1, calls);
  return same_record(got, want);
}

TEST(DeadLetter, RecordIsPlainBytes) {
  static_assert(std::is_trivially_copyable_v<DeadLetter>);
  static_assert(std::is_trivially_copyable_v<rt::TaskFn>);
  static_assert(std::is_trivially_copyable_v<rt::SubmitOptions>);
  EXPECT_LE(sizeof(DeadLetter), 512u);
}

TEST(DeadLetter, PushAssignsSeqsAndListsOldestFirst) {
  rt::Arena arena(DeadLetterQueue::bytes(8), false);
  DeadLetterQueue q(arena, 8);
  std::atomic<std::uint64_t> calls{0};
  DeadLetter d;
  for (std::uint32_t i = 0; i < 5; ++i) {
    make_record(d, 1, i, &calls);
    d.seq = 99;  // ignored: the queue numbers records itself
    EXPECT_EQ(q.push(d), i + 1);
  }
  const std::vector<DeadLetter> all = q.list();
  ASSERT_EQ(all.size(), 5u);
  for (std::uint32_t i = 0; i < 5; ++i) {
    EXPECT_EQ(all[i].seq, i + 1);
    EXPECT_EQ(all[i].id.generation, i + 1);
    EXPECT_TRUE(intact(all[i], &calls));
  }
  const std::vector<DeadLetter> page = q.list(2, 1);
  ASSERT_EQ(page.size(), 2u);
  EXPECT_EQ(page[0].seq, 2u);
  EXPECT_EQ(page[1].seq, 3u);
  EXPECT_EQ(q.list(10, 4).size(), 1u);
  EXPECT_TRUE(q.list(10, 5).empty());
  EXPECT_TRUE(q.list(0).empty());
  EXPECT_EQ(q.size(), 5u);
  const rt::DeadLetterStats s = q.stats();
  EXPECT_EQ(s.size, 5u);
  EXPECT_EQ(s.capacity, 8u);
  EXPECT_EQ(s.pushed, 5u);
  EXPECT_EQ(s.dropped_oldest + s.dropped_contended + s.taken + s.purged, 0u);
}

TEST(DeadLetter, TakeReturnsTheExactRecordOnce) {
  rt::Arena arena(DeadLetterQueue::bytes(4), false);
  DeadLetterQueue q(arena, 4);
  int hit = 0;
  DeadLetter d;
  std::memset(static_cast<void*>(&d), 0, sizeof d);
  d.id = rt::TaskId{3, 9};
  d.type = 2;
  d.priority = rt::Priority::High;
  d.workflow = 5;
  d.attempts = 4;
  d.last_state = rt::State::Timeout;
  d.last_reason = rt::Reason::DeadlineMissed;
  d.at = 123456789;
  d.set_error("deadline missed");
  d.options.retry = {.strategy = rt::RetryStrategy::Fixed, .max_retries = 3, .initial_delay = 100'000'000};
  d.options.context.user_id = 42;
  d.fn.emplace([p = &hit](rt::TaskContext&) { *p += 1; });
  DeadLetter other;
  std::atomic<std::uint64_t> calls{0};
  make_record(other, 0, 0, &calls);
  ASSERT_EQ(q.push(other), 1u);
  ASSERT_EQ(q.push(d), 2u);

  DeadLetter out;
  ASSERT_TRUE(q.take(2, out));
  EXPECT_EQ(out.seq, 2u);
  EXPECT_TRUE(same_record(out, d));
  EXPECT_EQ(out.error_text(), "deadline missed");
  EXPECT_EQ(out.options.retry.max_retries, 3u);
  ASSERT_TRUE(out.fn);
  call(out.fn);
  EXPECT_EQ(hit, 1);

  EXPECT_FALSE(q.take(2, out));
  EXPECT_FALSE(q.take(0, out));
  EXPECT_FALSE(q.take(3, out));   // not pushed yet
  EXPECT_FALSE(q.take(99, out));  // never
  EXPECT_EQ(out.seq, 2u);         // untouched by the failed takes
  EXPECT_EQ(q.size(), 1u);
  ASSERT_EQ(q.list().size(), 1u);
  EXPECT_EQ(q.list()[0].seq, 1u);
  EXPECT_EQ(q.stats().taken, 1u);
}

TEST(DeadLetter, FullQueueDropsTheOldest) {
  rt::Arena arena(DeadLetterQueue::bytes(4), false);
  DeadLetterQueue q(arena, 4);
  std::atomic<std::uint64_t> calls{0};
  DeadLetter d;
  for (std::uint32_t i = 0; i < 6; ++i) {
    make_record(d, 0, i, &calls);
    EXPECT_EQ(q.push(d), i + 1);
  }
  const std::vector<DeadLetter> all = q.list();
  ASSERT_EQ(all.size(), 4u);
  for (std::size_t j = 0; j < all.size(); ++j) {
    EXPECT_EQ(all[j].seq, j + 3);
    EXPECT_TRUE(intact(all[j], &calls));
  }
  const rt::DeadLetterStats s = q.stats();
  EXPECT_EQ(s.pushed, 6u);
  EXPECT_EQ(s.dropped_oldest, 2u);
  EXPECT_EQ(s.size, 4u);
  DeadLetter out;
  EXPECT_FALSE(q.take(1, out));  // dropped
  EXPECT_FALSE(q.take(2, out));
  EXPECT_TRUE(q.take(3, out));
  // The entry a take emptied is reused without counting a drop.
  make_record(d, 0, 6, &calls);
  EXPECT_EQ(q.push(d), 7u);
  EXPECT_EQ(q.stats().dropped_oldest, 2u);
}

TEST(DeadLetter, PurgeRemovesEverything) {
  rt::Arena arena(DeadLetterQueue::bytes(8), false);
  DeadLetterQueue q(arena, 8);
  std::atomic<std::uint64_t> calls{0};
  DeadLetter d;
  for (std::uint32_t i = 0; i < 3; ++i) {
    make_record(d, 0, i, &calls);
    q.push(d);
  }
  DeadLetter out;
  ASSERT_TRUE(q.take(2, out));
  EXPECT_EQ(q.purge(), 2u);
  EXPECT_EQ(q.size(), 0u);
  EXPECT_TRUE(q.list().empty());
  EXPECT_FALSE(q.take(1, out));
  EXPECT_FALSE(q.take(3, out));
  EXPECT_EQ(q.purge(), 0u);
  make_record(d, 0, 3, &calls);
  EXPECT_EQ(q.push(d), 4u);  // seqs go on
  const rt::DeadLetterStats s = q.stats();
  EXPECT_EQ(s.purged, 2u);
  EXPECT_EQ(s.taken, 1u);
  EXPECT_EQ(s.size, 1u);
  EXPECT_EQ(s.size + s.taken + s.purged + s.dropped_oldest + s.dropped_contended, s.pushed);
}

TEST(DeadLetter, ErrorTextIsTruncated) {
  DeadLetter d;
  EXPECT_EQ(d.error_text(), "");
  d.set_error("boom");
  EXPECT_EQ(d.error_text(), "boom");
  const std::string long_text(200, 'e');
  d.set_error(long_text);
  EXPECT_EQ(d.error_text(), long_text.substr(0, d.error.size() - 1));
  d.set_error(long_text.substr(0, 95));  // exactly fits with its NUL
  EXPECT_EQ(d.error_text().size(), 95u);
  d.set_error("short");  // the longer text's tail does not survive
  EXPECT_EQ(d.error_text(), "short");
  EXPECT_EQ(d.error[6], '\0');
  EXPECT_EQ(d.error[94], '\0');
  // A cut never splits a UTF-8 sequence: the 2-byte "é" at bytes 94-95 goes whole.
  d.set_error(std::string(94, 'a') + "\xc3\xa9" + "tail");
  EXPECT_EQ(d.error_text(), std::string(94, 'a'));
  d.set_error(std::string(93, 'a') + "\xc3\xa9" + "tail");
  EXPECT_EQ(d.error_text(), std::string(93, 'a') + "\xc3\xa9");
  // A buffer filled without a NUL reads as all of it.
  d.error.fill('z');
  EXPECT_EQ(d.error_text().size(), d.error.size());
}

TEST(DeadLetter, SetupErrorsNameTheProblem) {
  rt::Arena arena(4096, false);
  EXPECT_THROW(DeadLetterQueue(arena, 0), std::invalid_argument);
  EXPECT_THROW(DeadLetterQueue(arena, std::numeric_limits<std::size_t>::max()), std::length_error);
  try {
    DeadLetterQueue q(arena, 4096);
    FAIL() << "a 4 KiB arena held 4096 entries";
  } catch (const std::length_error& e) {
    EXPECT_NE(std::string(e.what()).find("dead-letter entries"), std::string::npos) << e.what();
  }
  rt::Arena exact(DeadLetterQueue::bytes(100), false);
  EXPECT_NO_THROW(DeadLetterQueue(exact, 100));
}

// Pushers race a reader that lists, takes and purges, on a ring far smaller than what is
// pushed. Every record read is checked byte for byte; every record is accounted for.
void race(std::size_t capacity) {
  constexpr std::uint32_t kPushers = 4;
  constexpr std::uint32_t kPerPusher = 10000;
  rt::Arena arena(DeadLetterQueue::bytes(capacity), false);
  DeadLetterQueue q(arena, capacity);
  std::atomic<std::uint64_t> calls{0};
  std::atomic<std::uint32_t> running{kPushers};
  std::atomic<bool> go{false};

  std::vector<std::thread> pushers;
  for (std::uint32_t who = 0; who < kPushers; ++who) {
    pushers.emplace_back([&, who] {
      while (!go.load(std::memory_order_acquire)) {
      }
      DeadLetter d;
      for (std::uint32_t i = 0; i < kPerPusher; ++i) {
        make_record(d, who, i, &calls);
        q.push(d);
        // On two cores the reader would otherwise often start after the pushers ended.
        if (i % 16 == 0) std::this_thread::yield();
      }
      running.fetch_sub(1, std::memory_order_release);
    });
  }

  std::uint64_t listed = 0, torn = 0, out_of_order = 0, taken = 0, purged = 0, twice = 0;
  std::uint64_t expected_calls = 0;
  std::vector<std::uint8_t> seen_taken(std::size_t{kPushers} * kPerPusher, 0);
  auto check = [&](const std::vector<DeadLetter>& page) {
    for (std::size_t j = 0; j < page.size(); ++j) {
      ++listed;
      torn += intact(page[j], &calls) ? 0 : 1;
      if (j > 0 && page[j].seq <= page[j - 1].seq) ++out_of_order;
    }
  };
  go.store(true, std::memory_order_release);
  DeadLetter out;
  for (std::size_t round = 0; running.load(std::memory_order_acquire) != 0; ++round) {
    const std::vector<DeadLetter> page = q.list(8, round % 3);
    check(page);
    if (!page.empty() && q.take(page[round % page.size()].seq, out)) {
      ++taken;
      if (!intact(out, &calls)) {
        ++torn;
        continue;
      }
      auto& mark = seen_taken[std::size_t{out.id.index} * kPerPusher + out.id.generation - 1];
      twice += mark;
      mark = 1;
      expected_calls += ((std::uint64_t{out.id.index} << 32) | (out.id.generation - 1)) + 1;
      call(out.fn);
    }
    if (round % 64 == 63) purged += q.purge();
  }
  for (auto& t : pushers)
    t.join();

  const std::vector<DeadLetter> rest = q.list(capacity);
  check(rest);
  // Each pusher's records come out in the order it pushed them.
  for (std::size_t j = 1; j < rest.size(); ++j) {
    if (rest[j].id.index == rest[j - 1].id.index) {
      EXPECT_GT(rest[j].id.generation, rest[j - 1].id.generation);
    }
  }
  EXPECT_EQ(torn, 0u);
  EXPECT_EQ(out_of_order, 0u);
  EXPECT_EQ(twice, 0u);
  EXPECT_EQ(calls.load(), expected_calls);
  const rt::DeadLetterStats s = q.stats();
  EXPECT_EQ(s.pushed, std::uint64_t{kPushers} * kPerPusher);
  EXPECT_EQ(s.taken, taken);
  EXPECT_EQ(s.purged, purged);
  EXPECT_EQ(s.size, rest.size());
  EXPECT_LE(s.size, capacity);
  EXPECT_EQ(s.size + s.taken + s.purged + s.dropped_oldest + s.dropped_contended, s.pushed);
  ::testing::Test::RecordProperty("listed", static_cast<int>(listed));
  ::testing::Test::RecordProperty("taken", static_cast<int>(taken));
  ::testing::Test::RecordProperty("dropped_oldest", static_cast<int>(s.dropped_oldest));
  ::testing::Test::RecordProperty("dropped_contended", static_cast<int>(s.dropped_contended));
}

TEST(DeadLetter, ConcurrentPushersAndReaderSeeNoTornRecord) { race(64); }

// Fewer entries than pushers: pushes lap each other on the same entry.
TEST(DeadLetter, ConcurrentPushersLappingATinyRing) { race(2); }

}  // namespace
