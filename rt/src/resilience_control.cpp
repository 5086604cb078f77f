// F14/F15 for the outside world (HTTP API, CLI, tests): the dead-letter queue's records,
// re-driving one, purging, and the breakers' state. Not for RT threads.
#include "engine_impl.hpp"

namespace rt {

std::vector<DeadLetter> Engine::dead_letters(std::size_t limit, std::size_t offset) const {
  return impl_->dead_letters.list(limit, offset);
}

SubmitStatus Engine::redrive(Producer& p, std::uint64_t seq, TaskId* id) {
  Impl& m = *impl_;
  if (p.engine_ != this) return SubmitStatus::Invalid;
  DeadLetter d;
  if (!m.dead_letters.take(seq, d)) return SubmitStatus::Invalid;
  const SubmitStatus status = p.try_submit_stored(d.fn, d.options, id);
  // Refused: nothing is lost, the record goes back (the queue gives it a new seq).
  if (status != SubmitStatus::Ok) (void)m.dead_letters.push(d);
  return status;
}

std::size_t Engine::purge_dead_letters() { return impl_->dead_letters.purge(); }

DeadLetterStats Engine::dead_letter_stats() const { return impl_->dead_letters.stats(); }

bool Engine::breaker_stats(TypeId type, BreakerStats& out) const noexcept {
  const auto& b = impl_->breakers;
  if (type >= b.size() || b[type] == nullptr) return false;
  out = b[type]->stats();
  return true;
}

}  // namespace rt
