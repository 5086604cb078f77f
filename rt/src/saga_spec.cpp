// F16, the setup half: the names of the saga enums, SagaError, a SagaSpec's validation
// (check, validate) and SagaBuilder. Setup only (it allocates), except the two outcome
// names, which are wait-free. The run half (SagaRun) is saga.cpp.
#include <string>
#include <unordered_map>
#include <utility>

#include "quoted.hpp"
#include "rt/saga.hpp"

namespace rt {

namespace {

using detail::quoted;
using Kind = SagaError::Kind;

}  // namespace

// --- names ---

std::string_view to_string(StepOutcome o) noexcept HAL_NONBLOCKING {
  switch (o) {
    case StepOutcome::NotRun:
      return "not_run";
    case StepOutcome::Completed:
      return "completed";
    case StepOutcome::Failed:
      return "failed";
    case StepOutcome::Compensated:
      return "compensated";
    case StepOutcome::CompensationFailed:
      return "compensation_failed";
    case StepOutcome::Skipped:
      return "skipped";
  }
  return "?";
}

std::string_view to_string(SagaOutcome o) noexcept HAL_NONBLOCKING {
  switch (o) {
    case SagaOutcome::Completed:
      return "completed";
    case SagaOutcome::Compensated:
      return "compensated";
    case SagaOutcome::CompensationFailed:
      return "compensation_failed";
    case SagaOutcome::Stopped:
      return "stopped";
  }
  return "?";
}

std::string_view to_string(SagaError::Kind k) noexcept {
  switch (k) {
    case Kind::Empty:
      return "empty";
    case Kind::Invalid:
      return "invalid";
    case Kind::DuplicateStep:
      return "duplicate_step";
    case Kind::NoHandler:
      return "no_handler";
  }
  return "?";
}

// --- setup: errors, validation, the builder ---

SagaError::SagaError(Kind k, const std::string& message) : std::invalid_argument(message), kind_(k) {}

std::vector<SagaError> check(const SagaSpec& s, const std::function<bool(std::string_view)>& has_handler) {
  std::vector<SagaError> errors;
  const auto report = [&](Kind k, const std::string& what) {
    errors.emplace_back(k, "saga " + quoted(s.name) + ": " + what);
  };
  const auto step = [&](std::size_t i) {
    return s.steps[i].name.empty() ? "step #" + std::to_string(i) : "step " + quoted(s.steps[i].name);
  };

  if (s.steps.empty()) report(Kind::Empty, "no steps");
  if (s.name.empty()) report(Kind::Invalid, "the saga has no name");
  if (s.steps.size() > kMaxSagaSteps)
    report(Kind::Invalid, std::to_string(s.steps.size()) + " steps, more than the " + std::to_string(kMaxSagaSteps) +
                              " a saga may have");
  if (s.deadline_in < 0) report(Kind::Invalid, "negative deadline_in");
  if (static_cast<std::size_t>(s.priority) >= kClassCount) report(Kind::Invalid, "priority is not a class");
  for (std::size_t i = 0; i < s.steps.size(); ++i) {
    if (s.steps[i].name.empty()) report(Kind::Invalid, step(i) + " has an empty name");
    if (s.steps[i].action.empty()) report(Kind::Invalid, step(i) + " has no action");
    if (s.steps[i].deadline_in < 0) report(Kind::Invalid, step(i) + " has a negative deadline_in");
  }

  // Name -> already reported as a duplicate.
  std::unordered_map<std::string_view, bool> seen;
  seen.reserve(s.steps.size());
  for (const SagaStep& st : s.steps) {
    if (st.name.empty()) continue;  // already Invalid
    const auto [it, fresh] = seen.try_emplace(st.name, false);
    if (fresh || it->second) continue;
    it->second = true;
    report(Kind::DuplicateStep, "duplicate step name " + quoted(st.name));
  }

  for (std::size_t i = 0; i < s.steps.size(); ++i) {
    const SagaStep& st = s.steps[i];
    if (!st.action.empty() && !has_handler(st.action))
      report(Kind::NoHandler, step(i) + " has action " + quoted(st.action) + " with no handler");
    if (!st.compensation.empty() && !has_handler(st.compensation))
      report(Kind::NoHandler, step(i) + " has compensation " + quoted(st.compensation) + " with no handler");
  }
  return errors;
}

void validate(const SagaSpec& s, const std::function<bool(std::string_view)>& has_handler) {
  auto errors = check(s, has_handler);
  if (!errors.empty()) throw std::move(errors.front());
}

SagaBuilder::SagaBuilder(std::string name) { spec_.name = std::move(name); }

SagaBuilder& SagaBuilder::step(std::string name, std::string action, std::string compensation) {
  spec_.steps.push_back(SagaStep{std::move(name), std::move(action), std::move(compensation)});
  return *this;
}

SagaBuilder& SagaBuilder::step_deadline(ns_t d) {
  if (spec_.steps.empty())
    throw SagaError(Kind::Invalid, "saga " + quoted(spec_.name) + ": step_deadline() before any step()");
  spec_.steps.back().deadline_in = d;
  return *this;
}

SagaBuilder& SagaBuilder::deadline(ns_t d) {
  spec_.deadline_in = d;
  return *this;
}

SagaBuilder& SagaBuilder::priority(Priority p) {
  spec_.priority = p;
  return *this;
}

SagaSpec SagaBuilder::build() const { return spec_; }

}  // namespace rt
