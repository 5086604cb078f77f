#include "rt/dead_letter.hpp"

#include <algorithm>
#include <cstring>
#include <limits>
#include <stdexcept>
#include <string>

namespace rt {

namespace {

constexpr auto kRelaxed = std::memory_order_relaxed;

// An entry's word: the seq of the record it holds or last held << 2 | its state. The seq
// stays when a record is taken, so a push overtaken for a lap can still tell that its
// entry belongs to a newer record; and since seqs are unique, a word an entry has left
// never comes back (no ABA): a reader that sees the same word before and after its copy
// copied one record.
constexpr std::uint64_t kEmpty = 0, kLive = 1, kBusy = 2;
constexpr std::uint64_t pack(std::uint64_t seq, std::uint64_t state) noexcept { return seq << 2 | state; }
constexpr std::uint64_t seq_of(std::uint64_t w) noexcept { return w >> 2; }
constexpr std::uint64_t state_of(std::uint64_t w) noexcept { return w & 3U; }

// A UTF-8 sequence is at most 4 bytes: a cut backs over at most 3 continuation bytes.
constexpr int kMaxContinuation = 3;
constexpr bool is_continuation(char c) noexcept { return (static_cast<unsigned char>(c) & 0xC0U) == 0x80U; }

}  // namespace

void DeadLetter::set_error(std::string_view text) noexcept {
  std::size_t n = std::min(text.size(), error.size() - 1);
  if (n < text.size()) {
    for (int k = 0; k < kMaxContinuation && n > 0 && is_continuation(text[n]); ++k)
      --n;
  }
  std::copy_n(text.data(), n, error.data());
  std::fill(error.begin() + static_cast<std::ptrdiff_t>(n), error.end(), '\0');
}

std::string_view DeadLetter::error_text() const noexcept {
  const auto end = std::find(error.begin(), error.end(), '\0');
  return {error.data(), static_cast<std::size_t>(end - error.begin())};
}

DeadLetterQueue::DeadLetterQueue(Arena& arena, std::size_t capacity) : entries_(nullptr), capacity_(capacity) {
  if (capacity == 0) throw std::invalid_argument("dead-letter queue capacity must be at least 1");
  if (capacity > std::numeric_limits<std::size_t>::max() / sizeof(Entry))
    throw std::length_error("dead-letter queue capacity " + std::to_string(capacity) + " does not fit in memory");
  entries_ = arena.make_array<Entry>(capacity, "dead-letter entries");
}

std::uint64_t DeadLetterQueue::push(const DeadLetter& d) noexcept {
  pushed_.fetch_add(1, kRelaxed);
  for (int tries = 0; tries < kMaxTickets; ++tries) {
    const std::uint64_t seq = ticket_.fetch_add(1, kRelaxed) + 1;
    Entry& e = entries_[(seq - 1) % capacity_];
    std::uint64_t w = e.word.load(kRelaxed);
    // A failed CAS means another push claimed the entry (judged again below) or a take or
    // purge emptied it, which happens once per record: the loop is bounded by other
    // pushes alone. Relaxed: the payload's release stores carry the claim to any reader
    // that sees one of them.
    while (seq_of(w) < seq && state_of(w) != kBusy) {
      if (e.word.compare_exchange_strong(w, pack(seq, kBusy), kRelaxed)) {
        if (state_of(w) == kLive) dropped_oldest_.fetch_add(1, kRelaxed);
        write_payload(e, d);
        e.word.store(pack(seq, kLive), std::memory_order_release);
        return seq;
      }
    }
    if (seq_of(w) > seq) {
      // Overtaken: a push that took its ticket a lap after ours holds the entry, so ours
      // is the oldest record, the one a full queue drops.
      dropped_oldest_.fetch_add(1, kRelaxed);
      return 0;
    }
    // A push from an earlier lap is still writing here (preempted, or the ring is smaller
    // than the pushes in flight). Waiting for it could be forever: take the next ticket.
  }
  dropped_contended_.fetch_add(1, kRelaxed);
  return 0;
}

void DeadLetterQueue::write_payload(Entry& e, const DeadLetter& d) noexcept {
  const auto* src = reinterpret_cast<const unsigned char*>(&d);
  for (std::size_t i = 0; i < kWords; ++i) {
    std::uint64_t v = 0;
    std::memcpy(&v, src + i * sizeof v, sizeof v);
    // Release: a reader whose acquire load sees this value also sees the claim made before
    // it, so the word it checks after its copy cannot still show the record it began with.
    e.payload[i].store(v, std::memory_order_release);
  }
}

void DeadLetterQueue::read_payload(const Entry& e, Words& out) noexcept {
  for (std::size_t i = 0; i < kWords; ++i)
    out[i] = e.payload[i].load(std::memory_order_acquire);
}

namespace {
void store_record(DeadLetter& out, const void* words, std::uint64_t seq) noexcept {
  // void*: DeadLetter is trivially copyable; its deleted copy assignment (TaskFn's) is no
  // reason to warn about a byte copy.
  std::memcpy(static_cast<void*>(&out), words, sizeof out);
  out.seq = seq;
}
}  // namespace

std::vector<DeadLetter> DeadLetterQueue::list(std::size_t limit, std::size_t offset) const {
  // The words first, then only the page's records: a page costs `limit` copies, not `capacity`.
  std::vector<std::uint64_t> seqs;
  for (std::size_t i = 0; i < capacity_; ++i) {
    const std::uint64_t w = entries_[i].word.load(kRelaxed);
    if (state_of(w) == kLive) seqs.push_back(seq_of(w));
  }
  if (offset >= seqs.size() || limit == 0) return {};
  std::sort(seqs.begin(), seqs.end());
  const std::size_t n = std::min(limit, seqs.size() - offset);
  std::vector<DeadLetter> out(n);
  std::size_t filled = 0;
  Words words{};
  for (std::size_t j = offset; j < offset + n; ++j) {
    const std::uint64_t w = pack(seqs[j], kLive);
    const Entry& e = entries_[(seqs[j] - 1) % capacity_];
    if (e.word.load(std::memory_order_acquire) != w) continue;
    read_payload(e, words);
    if (e.word.load(kRelaxed) != w) continue;  // reused (the copy may be torn) or taken meanwhile
    store_record(out[filled++], words.data(), seqs[j]);
  }
  while (out.size() > filled)
    out.pop_back();  // DeadLetter cannot be moved (TaskFn), so no resize()
  return out;
}

bool DeadLetterQueue::take(std::uint64_t seq, DeadLetter& out) noexcept {
  if (seq == 0) return false;
  Entry& e = entries_[(seq - 1) % capacity_];
  std::uint64_t w = pack(seq, kLive);
  if (e.word.load(std::memory_order_acquire) != w) return false;
  Words words{};
  read_payload(e, words);
  // Succeeds only if no push claimed the entry since the load above: had one written a
  // word we copied, its claim would come before this CAS (see write_payload).
  if (!e.word.compare_exchange_strong(w, pack(seq, kEmpty), kRelaxed)) return false;
  store_record(out, words.data(), seq);
  taken_.fetch_add(1, kRelaxed);
  return true;
}

std::size_t DeadLetterQueue::purge() noexcept {
  std::size_t n = 0;
  for (std::size_t i = 0; i < capacity_; ++i) {
    std::uint64_t w = entries_[i].word.load(kRelaxed);
    // One try: a failure means a take got there first or a push reused the entry after
    // the purge began.
    if (state_of(w) == kLive && entries_[i].word.compare_exchange_strong(w, pack(seq_of(w), kEmpty), kRelaxed)) ++n;
  }
  purged_.fetch_add(n, kRelaxed);
  return n;
}

std::size_t DeadLetterQueue::size() const noexcept {
  std::size_t n = 0;
  for (std::size_t i = 0; i < capacity_; ++i)
    n += state_of(entries_[i].word.load(kRelaxed)) == kLive ? 1 : 0;
  return n;
}

DeadLetterStats DeadLetterQueue::stats() const noexcept {
  DeadLetterStats s;
  s.size = size();
  s.capacity = capacity_;
  s.pushed = pushed_.load(kRelaxed);
  s.dropped_oldest = dropped_oldest_.load(kRelaxed);
  s.dropped_contended = dropped_contended_.load(kRelaxed);
  s.taken = taken_.load(kRelaxed);
  s.purged = purged_.load(kRelaxed);
  return s;
}

}  // namespace rt
