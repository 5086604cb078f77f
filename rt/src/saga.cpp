// F16, the run half: a saga's working state and SagaRun (construction, the claim, run(),
// stats()). A run writes its working state in place, touched by the claim holder only, and
// publishes it when it ends under a seqlock, so a stats() reader on another thread never
// mixes two runs and never makes the run wait. The setup half (errors, validation, the
// builder, names) is saga_spec.cpp.
#include "rt/saga.hpp"

#include <algorithm>
#include <array>
#include <atomic>
#include <cstring>
#include <exception>
#include <thread>
#include <utility>

#include "hal/clock.hpp"

namespace rt {

namespace {

using Text = std::array<char, kSagaErrorCapacity>;
// An error text is published as atomic words, so a reader racing a publish reads stale
// words (and retries), never a data race.
constexpr std::size_t kTextWords = kSagaErrorCapacity / sizeof(std::uint64_t);
static_assert(kSagaErrorCapacity % sizeof(std::uint64_t) == 0, "an error text is a whole number of words");

// Keeps up to kSagaErrorCapacity - 1 bytes of `s`. A loop, not strnlen: a libc call
// the compiler cannot see into would break the nonblocking check. RT: wait-free.
void keep_text(Text& t, const char* s) noexcept HAL_NONBLOCKING {
  std::size_t n = 0;
  if (s != nullptr) {
    while (n + 1 < t.size() && s[n] != '\0') {
      t[n] = s[n];
      ++n;
    }
  }
  t[n] = '\0';
}

// The working state of one step: set up once, then written by the claim holder only.
struct Step {
  TaskFn action, compensation;  // compensation empty: nothing to undo
  ns_t budget = 0;
  StepOutcome outcome = StepOutcome::NotRun;
  Reason reason = Reason::None;
  ns_t duration = 0, compensation_duration = 0;
  // The action's what() when it threw, else the compensation's: never both, as a step
  // whose action threw is not compensated (an over-budget one did not throw).
  Text text{};

  void reset() noexcept HAL_NONBLOCKING {
    outcome = StepOutcome::NotRun;
    reason = Reason::None;
    duration = compensation_duration = 0;
    text[0] = '\0';
  }
};

// One step of the latest run to end, under State::seq.
struct Published {
  std::atomic<std::uint64_t> head{0};  // outcome | reason << 8
  std::atomic<ns_t> duration{0}, compensation_duration{0};
  std::array<std::atomic<std::uint64_t>, kTextWords> text{};
};

// Runs `fn`; false when it threw, its what() kept in `text`. F12: an exception is the
// step's failure, never the worker's. RT: as bounded as fn; no allocation by this.
bool call(TaskFn& fn, TaskContext& ctx, Text& text) noexcept {
  try {
    fn(ctx);
    return true;
  } catch (const std::exception& e) {
    keep_text(text, e.what());
  } catch (...) {
    keep_text(text, "an exception not derived from std::exception");
  }
  return false;
}

// cancel() and the deadline monitor raise the same stop flag; the clock tells them apart.
// RT: wait-free; no allocation.
Reason stop_reason(const TaskContext& ctx) noexcept HAL_NONBLOCKING {
  return ctx.deadline() != 0 && hal::now_ns() >= ctx.deadline() ? Reason::DeadlineMissed : Reason::CancelledRunning;
}

// A counter under the seqlock: single writer (the claim holder), so a load and a store,
// no locked instruction; a release store like every field the seqlock guards.
void bump(std::atomic<std::uint64_t>& c) noexcept HAL_NONBLOCKING {
  c.store(c.load(std::memory_order_relaxed) + 1, std::memory_order_release);
}

}  // namespace

// Padded on purpose: submitters hammer the claim line while the worker publishes.
struct SagaRun::State {  // NOLINT(clang-analyzer-optin.performance.Padding)
  explicit State(std::size_t n)
      : size(n), steps(std::make_unique<Step[]>(n)), published(std::make_unique<Published[]>(n)) {}

  std::size_t size;
  std::unique_ptr<Step[]> steps;
  std::unique_ptr<Published[]> published;

  alignas(hal::kCacheLine) std::atomic<bool> claimed{false};
  std::atomic<std::uint64_t> busy{0};

  // Seqlock: odd while the fields below and `published` change. The fence-free form of
  // Boehm, "Can seqlocks get along with programming language memory models?" (2012): each
  // guarded field is an atomic stored with release and loaded with acquire, so a reader
  // that sees any new field also sees the odd count before it and retries. No fences:
  // ThreadSanitizer models these, not atomic_thread_fence (GCC's -Wtsan).
  alignas(hal::kCacheLine) std::atomic<std::uint64_t> seq{0};
  std::atomic<std::uint64_t> runs{0}, completed{0}, compensated{0}, compensation_failed{0}, stopped{0};
  std::atomic<std::uint64_t> last{0};  // outcome | reason << 8 | (failed step + 1) << 16
  std::atomic<ns_t> last_duration{0};

  // RT: wait-free; no allocation.
  void open() noexcept HAL_NONBLOCKING {
    seq.store(seq.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
  }
  void close() noexcept HAL_NONBLOCKING {
    seq.store(seq.load(std::memory_order_relaxed) + 1, std::memory_order_release);
  }

  // Not RT: spins (yielding) while a publish is under way.
  template <class Read>
  void read(Read&& r) const {
    for (;;) {
      const std::uint64_t before = seq.load(std::memory_order_acquire);
      if ((before & 1U) != 0) {
        std::this_thread::yield();
        continue;
      }
      r();
      if (seq.load(std::memory_order_relaxed) == before) return;
    }
  }

  // Undoes steps [0, took_effect), last first; every compensation runs. False when one
  // failed. RT: no allocation by the saga; runs the user's compensations.
  bool compensate(std::size_t took_effect, TaskContext& ctx) noexcept {
    bool all = true;
    for (std::size_t k = took_effect; k-- > 0;) {
      Step& st = steps[k];
      if (!st.compensation) {
        st.outcome = StepOutcome::Skipped;
        continue;
      }
      const ns_t t0 = hal::now_ns();
      const bool ok = call(st.compensation, ctx, st.text);
      st.compensation_duration = hal::now_ns() - t0;
      st.outcome = ok ? StepOutcome::Compensated : StepOutcome::CompensationFailed;
      all = all && ok;
    }
    return all;
  }

  // RT: wait-free; O(steps) stores, no allocation.
  void publish(SagaOutcome out, int failed, Reason why, ns_t duration) noexcept HAL_NONBLOCKING {
    open();
    for (std::size_t k = 0; k < size; ++k) {
      const Step& st = steps[k];
      Published& p = published[k];
      p.head.store(static_cast<std::uint64_t>(st.outcome) | static_cast<std::uint64_t>(st.reason) << 8U,
                   std::memory_order_release);
      p.duration.store(st.duration, std::memory_order_release);
      p.compensation_duration.store(st.compensation_duration, std::memory_order_release);
      std::array<std::uint64_t, kTextWords> words{};
      std::memcpy(words.data(), st.text.data(), sizeof(words));
      for (std::size_t w = 0; w < kTextWords; ++w)
        p.text[w].store(words[w], std::memory_order_release);
    }
    last.store(static_cast<std::uint64_t>(out) | static_cast<std::uint64_t>(why) << 8U |
                   static_cast<std::uint64_t>(failed + 1) << 16U,
               std::memory_order_release);
    last_duration.store(duration, std::memory_order_release);
    switch (out) {
      case SagaOutcome::Completed:
        bump(completed);
        break;
      case SagaOutcome::Compensated:
        bump(compensated);
        break;
      case SagaOutcome::CompensationFailed:
        bump(compensation_failed);
        break;
      case SagaOutcome::Stopped:
        bump(stopped);
        break;
    }
    close();
  }
};

// --- the run ---

SagaRun::SagaRun(SagaSpec spec, const HandlerRegistry& handlers) : spec_(std::move(spec)) {
  validate(spec_, [&handlers](std::string_view type) { return handlers.contains(type); });
  state_ = std::make_unique<State>(spec_.steps.size());
  for (std::size_t k = 0; k < spec_.steps.size(); ++k) {
    const SagaStep& d = spec_.steps[k];
    Step& st = state_->steps[k];
    st.action.copy_from(*handlers.find(d.action));
    if (!d.compensation.empty()) st.compensation.copy_from(*handlers.find(d.compensation));
    st.budget = d.deadline_in;
  }
}

SagaRun::~SagaRun() = default;

bool SagaRun::try_claim() noexcept HAL_NONBLOCKING {
  State& s = *state_;
  // Load first: a refused claim then leaves the line shared instead of taking it exclusive.
  if (!s.claimed.load(std::memory_order_relaxed) && !s.claimed.exchange(true, std::memory_order_acquire)) return true;
  s.busy.fetch_add(1, std::memory_order_relaxed);
  return false;
}

void SagaRun::release_claim() noexcept HAL_NONBLOCKING { state_->claimed.store(false, std::memory_order_release); }

SagaOutcome SagaRun::run(TaskContext& ctx) noexcept {
  State& s = *state_;
  const ns_t begun = hal::now_ns();
  s.open();
  bump(s.runs);
  s.close();
  for (std::size_t k = 0; k < s.size; ++k)
    s.steps[k].reset();

  std::size_t i = 0;
  std::size_t took_effect = 0;  // steps whose action returned: the ones to compensate
  Reason why = Reason::None;
  bool stopped = false;
  for (; i < s.size; ++i) {
    if (ctx.stop_requested()) {
      stopped = true;
      why = stop_reason(ctx);
      break;
    }
    Step& st = s.steps[i];
    const ns_t t0 = hal::now_ns();
    const bool ok = call(st.action, ctx, st.text);
    st.duration = hal::now_ns() - t0;
    if (!ok) {
      st.outcome = StepOutcome::Failed;
      st.reason = why = Reason::Exception;
      break;
    }
    st.outcome = StepOutcome::Completed;
    took_effect = i + 1;
    if (st.budget != 0 && st.duration > st.budget) {
      st.outcome = StepOutcome::Failed;  // the compensation below overwrites it
      st.reason = why = Reason::DeadlineMissed;
      break;
    }
  }

  SagaOutcome out = SagaOutcome::Completed;
  if (i < s.size) {
    const bool undone = s.compensate(took_effect, ctx);
    if (!undone) {
      out = SagaOutcome::CompensationFailed;  // over Stopped: an inconsistent state is what must be seen
    } else {
      out = stopped ? SagaOutcome::Stopped : SagaOutcome::Compensated;
    }
  }
  s.publish(out, i < s.size ? static_cast<int>(i) : -1, why, hal::now_ns() - begun);
  s.claimed.store(false, std::memory_order_release);  // the next run sees this one's state
  return out;
}

SagaStats SagaRun::stats() const {
  const State& s = *state_;
  struct Raw {
    std::uint64_t head = 0;
    ns_t duration = 0, compensation_duration = 0;
    std::array<std::uint64_t, kTextWords> text{};
  };
  std::vector<Raw> raw(s.size);
  SagaStats st;
  std::uint64_t last = 0;
  s.read([&] {
    st.runs = s.runs.load(std::memory_order_acquire);
    st.completed = s.completed.load(std::memory_order_acquire);
    st.compensated = s.compensated.load(std::memory_order_acquire);
    st.compensation_failed = s.compensation_failed.load(std::memory_order_acquire);
    st.stopped = s.stopped.load(std::memory_order_acquire);
    last = s.last.load(std::memory_order_acquire);
    st.last.duration = s.last_duration.load(std::memory_order_acquire);
    for (std::size_t k = 0; k < s.size; ++k) {
      const Published& p = s.published[k];
      raw[k].head = p.head.load(std::memory_order_acquire);
      raw[k].duration = p.duration.load(std::memory_order_acquire);
      raw[k].compensation_duration = p.compensation_duration.load(std::memory_order_acquire);
      for (std::size_t w = 0; w < kTextWords; ++w)
        raw[k].text[w] = p.text[w].load(std::memory_order_acquire);
    }
  });
  st.name = spec_.name;
  st.running = s.claimed.load(std::memory_order_acquire);
  st.busy = s.busy.load(std::memory_order_relaxed);

  SagaResult& r = st.last;
  r.steps.resize(s.size);
  for (std::size_t k = 0; k < s.size; ++k) {
    SagaStepResult& out = r.steps[k];
    out.name = spec_.steps[k].name;
    out.outcome = static_cast<StepOutcome>(raw[k].head & 0xFFU);
    out.reason = static_cast<Reason>(raw[k].head >> 8U & 0xFFU);
    out.duration = raw[k].duration;
    out.compensation_duration = raw[k].compensation_duration;
    Text text{};
    std::memcpy(text.data(), raw[k].text.data(), sizeof(text));
    std::string said(text.data(), static_cast<std::size_t>(std::find(text.begin(), text.end(), '\0') - text.begin()));
    if (out.outcome == StepOutcome::Failed) {
      out.error = std::move(said);
    } else if (out.outcome == StepOutcome::CompensationFailed) {
      out.compensation_error = std::move(said);
    }
  }
  r.outcome = static_cast<SagaOutcome>(last & 0xFFU);
  r.reason = static_cast<Reason>(last >> 8U & 0xFFU);
  r.failed_step = static_cast<int>(last >> 16U) - 1;
  if (r.failed_step >= 0) {
    const auto f = static_cast<std::size_t>(r.failed_step);
    r.failed_step_name = spec_.steps[f].name;
    r.error = r.steps[f].error;
  }
  return st;
}

}  // namespace rt
