// Setup: the checks of an EngineConfig (validate) and the arena size it needs when
// arena_bytes is 0 (estimate_arena).
#include "rt/engine_config.hpp"

#include <cstdint>
#include <stdexcept>
#include <string>

#include "engine_impl.hpp"

namespace rt {

using detail::TaskSlot;

namespace {

std::size_t pow2_at_least(std::size_t v) {
  std::size_t p = 1;
  while (p < v)
    p <<= 1;
  return p;
}

}  // namespace

namespace detail {

// Generous on purpose: a short estimate is a clear setup error, a long one costs only
// address space and prefault time.
std::size_t estimate_arena(const EngineConfig& c) {
  const std::size_t workers = c.workers.size();
  auto ring = [](std::size_t cap, std::size_t producers, std::size_t item) {
    const std::size_t blocks = ((cap + 31) / 32) * (producers + 1) + 2 * producers;
    return blocks * (32 * item + 384) + producers * (pow2_at_least(blocks) * 48 + 4096) + std::size_t{64} * 1024;
  };
  std::size_t bytes = c.max_tasks * (sizeof(TaskSlot) + sizeof(std::uint32_t)) + std::size_t{64} * 1024;
  for (std::size_t cap : c.ring_capacity)
    bytes += ring(cap, c.max_producers + 1 + workers, sizeof(std::uint32_t));
  // A post ring's items are 80 bytes, so its queue's slack (ring.hpp) is counted too:
  // about (capacity + 192 x max_producers) x (max_producers + 1) x 80 bytes.
  for (std::size_t cap : c.post_capacity) {
    if (cap != 0)
      bytes += ring(cap + c.max_producers * detail::kSlackPerProducer, c.max_producers, sizeof(detail::PostItem));
  }
  bytes += ring(c.max_tasks, workers + 2, sizeof(std::uint32_t));                                       // retired
  bytes += ring(2 * c.max_tasks + c.max_graphs, c.max_producers + workers, sizeof(detail::Scheduled));  // scheduled
  bytes += c.max_producers * sizeof(detail::ProducerState) + hal::kCacheLine;
  bytes += ring(c.event_capacity, workers + 3 + c.max_producers, sizeof(Event));
  bytes += DeadLetterQueue::bytes(c.dead_letter_capacity);
  const std::size_t histograms = 2 * workers + 1 + 3 * c.max_periodic;
  bytes += histograms * (Histogram::bytes() + 2 * hal::kCacheLine);
  return bytes + bytes / 4 + (1U << 20);
}

}  // namespace detail

void validate(const EngineConfig& c) {
  auto bad = [](const std::string& what) { throw std::invalid_argument("EngineConfig: " + what); };
  if (c.workers.empty()) bad("workers: at least one worker is needed");
  if (c.workers.size() > 256) bad("workers: at most 256");
  if (c.initial_workers > c.workers.size())
    bad("initial_workers (" + std::to_string(c.initial_workers) + ") exceeds workers (" +
        std::to_string(c.workers.size()) + ")");
  for (std::size_t i = 0; i < c.workers.size(); ++i) {
    const WorkerConfig& w = c.workers[i];
    if (w.priority < 0 || w.priority > 99) bad("workers[" + std::to_string(i) + "].priority must be 0..99");
    if ((w.classes & ~kAllClasses) != 0)
      bad("workers[" + std::to_string(i) + "].classes has bits beyond the 5 classes");
    if (w.idle_spin < -1 || w.idle_spin > 3600 * hal::kNsPerSec)
      bad("workers[" + std::to_string(i) + "].idle_spin must be -1 (the engine's) or 0 .. 1 h");
  }
  for (std::size_t k = 0; k < kClassCount; ++k) {
    if (c.ring_capacity[k] == 0 || c.ring_capacity[k] > (1U << 20))
      bad("ring_capacity[" + std::string(to_string(static_cast<Priority>(k))) + "] must be 1..1048576");
  }
  for (std::size_t k = 0; k < kClassCount; ++k) {
    if (c.post_capacity[k] > (1U << 20))
      bad("post_capacity[" + std::string(to_string(static_cast<Priority>(k))) + "] must be 0..1048576");
  }
  if (c.max_tasks == 0 || c.max_tasks > (1U << 24)) bad("max_tasks must be 1..16777216");
  if (c.max_producers == 0 || c.max_producers > 1024) bad("max_producers must be 1..1024");
  if (c.gates.size() > 64) bad("gates: at most 64");
  if (c.task_types.empty() || c.task_types.size() > 65535) bad("task_types: 1..65535 names");
  if (c.idle_spin < 0 || c.idle_spin > 3600 * hal::kNsPerSec) bad("idle_spin must be 0 .. 1 h");
  if (c.event_capacity == 0 || c.event_capacity > (1U << 20)) bad("event_capacity must be 1..1048576");
  if (c.max_periodic > 4096) bad("max_periodic must be 0..4096");
  if (c.monitor.priority < -1 || c.monitor.priority > 99) bad("monitor.priority must be -1 (auto) or 0..99");
  if (c.monitor.stall_after <= 0) bad("monitor.stall_after must be positive");
  if (c.pm_qos.latency_us < 0) bad("pm_qos.latency_us must not be negative");
  if (c.dead_letter_capacity == 0) bad("dead_letter_capacity must be at least 1");
  std::vector<bool> guarded(c.task_types.size());
  for (std::size_t i = 0; i < c.breakers.size(); ++i) {
    const std::string& t = c.breakers[i].type;
    const auto it = std::find(c.task_types.begin(), c.task_types.end(), t);
    if (it == c.task_types.end()) bad("breakers[" + std::to_string(i) + "].type '" + t + "' is not one of task_types");
    const auto k = static_cast<std::size_t>(it - c.task_types.begin());
    if (guarded[k]) bad("breakers[" + std::to_string(i) + "]: task type '" + t + "' already has a breaker");
    guarded[k] = true;
  }
}

}  // namespace rt
