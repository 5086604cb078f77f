#pragma once
// F11: state a task binds so the engine can put it back when a run is violated. Before
// each run the engine snapshots the state into a buffer given at setup; on a timeout, an
// exception or a gate violation it restores it, calls the rollback handler, and the run
// ends ROLLED_BACK. A successful run simply leaves the snapshot to be overwritten.
#include <cstddef>
#include <cstring>
#include <type_traits>

#include "rt/types.hpp"

namespace rt {

// Plain function pointers: calling one can neither allocate nor throw on the engine's
// behalf. One run at a time may use a binding (it owns one snapshot buffer).
struct StateBinding {
  void* state = nullptr;  // nullptr: no state bound
  void* saved = nullptr;  // preallocated, at least `size` bytes
  std::size_t size = 0;
  // nullptr: memcpy of `size` bytes, for trivially copyable state.
  void (*snapshot)(const void* state, void* saved) noexcept = nullptr;
  void (*restore)(void* state, const void* saved) noexcept = nullptr;
  // Called after the restore, on the thread that detected the violation's end (the
  // worker): drive outputs to a safe value, log, count...
  void (*on_rollback)(void* state, Reason why) noexcept = nullptr;

  [[nodiscard]] bool bound() const noexcept { return state != nullptr; }

  // RT: no allocation, no syscall (unless the user's snapshot function makes one).
  void take() const noexcept {
    if (snapshot != nullptr) {
      snapshot(state, saved);
    } else {
      std::memcpy(saved, state, size);
    }
  }
  // RT: no allocation, no syscall (unless the user's functions make one).
  void roll_back(Reason why) const noexcept {
    if (restore != nullptr) {
      restore(state, saved);
    } else {
      std::memcpy(state, saved, size);
    }
    if (on_rollback != nullptr) on_rollback(state, why);
  }
};

// A trivially copyable value with its own snapshot buffer: the common case, a
// controller's state or a setpoint struct.
template <class T>
class Snapshotted {
  static_assert(std::is_trivially_copyable_v<T>, "Snapshotted<T>: T is copied bit for bit");

 public:
  Snapshotted() = default;
  explicit Snapshotted(const T& v) : value(v), saved_(v) {}
  Snapshotted(const Snapshotted&) = delete;  // the binding points into this object
  Snapshotted& operator=(const Snapshotted&) = delete;

  [[nodiscard]] StateBinding binding(void (*on_rollback)(void*, Reason) noexcept = nullptr) noexcept {
    return StateBinding{&value, &saved_, sizeof(T), nullptr, nullptr, on_rollback};
  }

  T value{};

 private:
  T saved_{};
};

}  // namespace rt
