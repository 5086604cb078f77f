#pragma once
// F3: the task state machine as a compile-time table. The engine refuses (and counts)
// any transition the table does not allow, so a bug shows up as a number, not as a
// task that ran twice.
#include <array>

#include "rt/types.hpp"

namespace rt {

namespace detail {

using Row = std::array<bool, kStateCount>;
using Table = std::array<Row, kStateCount>;

constexpr std::size_t idx(State s) noexcept { return static_cast<std::size_t>(s); }

constexpr Table make_table() noexcept {
  Table t{};
  auto allow = [&t](State from, std::initializer_list<State> to) {
    for (State s : to)
      t[idx(from)][idx(s)] = true;
  };
  using S = State;
  allow(S::Free, {S::Pending});
  // Pending -> Free: a refused submission (ring full) gives its slot straight back.
  allow(S::Pending, {S::Scheduled, S::Ready, S::Cancelled, S::Free});
  allow(S::Scheduled, {S::Ready, S::Cancelled, S::Skipped, S::Timeout});
  // A READY task can end without running: cancelled, its deadline already passed, a
  // required gate closed (F6), or skipped by its workflow.
  allow(S::Ready, {S::Running, S::Cancelled, S::Timeout, S::Failed, S::Skipped});
  // Ready -> Pending: the ring refused the enqueue after the task was marked READY
  // (rt/src/ring.hpp, kSlackPerProducer); no worker has seen it, it goes back unsubmitted.
  allow(S::Ready, {S::Pending});
  // Ready -> Scheduled: the same refusal for a delayed start the monitor released; it
  // goes back to waiting and is retried.
  allow(S::Ready, {S::Scheduled});
  // Ready -> Retrying: the same refusal for a retry the monitor re-released.
  allow(S::Ready, {S::Retrying});
  allow(S::Running, {S::Completed, S::Failed, S::Timeout, S::Cancelled, S::Paused});
  // Failed/Timeout/RolledBack -> Cancelled: only an attempt with a retry left, which is
  // not an outcome yet (cancel() checks; F13).
  allow(S::Failed, {S::RolledBack, S::Retrying, S::DeadLettered, S::Cancelled, S::Free});
  allow(S::Timeout, {S::RolledBack, S::Retrying, S::DeadLettered, S::Cancelled, S::Free});
  allow(S::RolledBack, {S::Retrying, S::DeadLettered, S::Cancelled, S::Free});
  // Retrying -> DeadLettered: a retry that could not be handed to the monitor.
  allow(S::Retrying, {S::Ready, S::Cancelled, S::DeadLettered});
  allow(S::Paused, {S::Ready, S::Cancelled});
  allow(S::Completed, {S::Free});
  allow(S::Cancelled, {S::Free});
  allow(S::Skipped, {S::Free});
  allow(S::DeadLettered, {S::Free});
  return t;
}

}  // namespace detail

inline constexpr detail::Table kTransitions = detail::make_table();

// RT: wait-free; a table lookup.
constexpr bool transition_allowed(State from, State to) noexcept {
  return kTransitions[detail::idx(from)][detail::idx(to)];
}

// The table's promises, checked by the compiler.
static_assert(transition_allowed(State::Ready, State::Running));
static_assert(!transition_allowed(State::Completed, State::Running), "a finished task never runs again");
static_assert(!transition_allowed(State::Running, State::Ready), "a running task is never re-queued behind its back");
static_assert(!transition_allowed(State::Free, State::Running), "only a submitted task can run");

}  // namespace rt
