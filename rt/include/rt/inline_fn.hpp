#pragma once
// A type-erased callable stored inline in a fixed buffer: no heap, ever. The callable must
// be trivially copy-constructible and trivially destructible, so storing it is a byte copy and
// dropping it is nothing: a capture that owns heap memory (std::string, std::function,
// std::vector, a smart pointer) would malloc in the submitter's copy and free on the
// worker, and a throwing copy would terminate inside a noexcept run path. Both are compile
// errors here, as is a callable larger than the buffer.
#include <cstddef>
#include <cstring>
#include <new>
#include <type_traits>
#include <utility>

namespace rt {

// What a task callable may be: the rule InlineFn enforces, usable in a caller's own
// static_assert or requires-clause. Constructible, not "copyable": a closure that captures
// by reference has a deleted copy assignment, which the engine never uses.
template <class F>
concept InlineStorable = std::is_trivially_copy_constructible_v<std::decay_t<F>> &&
    std::is_trivially_move_constructible_v<std::decay_t<F>> && std::is_trivially_destructible_v<std::decay_t<F>>;

template <std::size_t Capacity, class... Args>
class InlineFn {
 public:
  static constexpr std::size_t kCapacity = Capacity;

  InlineFn() noexcept = default;
  InlineFn(const InlineFn&) = delete;
  InlineFn& operator=(const InlineFn&) = delete;
  ~InlineFn() = default;

  // Stores F in place, replacing what was there. RT: wait-free; no allocation (a byte copy).
  template <class F>
  void emplace(F&& f) noexcept {
    using Fn = std::decay_t<F>;
    static_assert(sizeof(Fn) <= Capacity,
                  "callable too large for the task's inline storage: capture less (pointers, ids) or raise "
                  "rt::kTaskFnCapacity");
    static_assert(alignof(Fn) <= alignof(std::max_align_t), "callable over-aligned for the task's inline storage");
    static_assert(std::is_invocable_v<Fn&, Args...>, "callable does not take the task's arguments");
    static_assert(
        InlineStorable<Fn>,
        "a task callable must be trivially copy-constructible and trivially destructible: it is copied into the "
        "engine on the submitting thread and dropped on a worker, both real-time threads. Capture ids, "
        "pointers or references, and fixed-size values (std::array, structs of scalars), not owners of "
        "heap memory (std::string, std::vector, std::function, smart pointers)");
    ::new (static_cast<void*>(buf_)) Fn(std::forward<F>(f));
    invoke_ = [](void* p, Args... args) { (*static_cast<Fn*>(p))(std::forward<Args>(args)...); };
  }

  // RT: as bounded as the callable; may throw what it throws.
  void operator()(Args... args) { invoke_(buf_, std::forward<Args>(args)...); }

  // Makes this hold a copy of what `o` holds. Explicit, not a copy constructor, so no copy
  // happens by accident; safe because every stored callable is trivially copyable (the
  // dead-letter queue keeps a task's callable, a graph node its handler's).
  // RT: wait-free; no allocation (a byte copy).
  void copy_from(const InlineFn& o) noexcept {
    std::memcpy(buf_, o.buf_, Capacity);
    invoke_ = o.invoke_;
  }

  // RT: wait-free; no allocation (the callable is trivially destructible: nothing to run).
  void reset() noexcept { invoke_ = nullptr; }
  explicit operator bool() const noexcept { return invoke_ != nullptr; }

 private:
  alignas(std::max_align_t) unsigned char buf_[Capacity]{};
  void (*invoke_)(void*, Args...) = nullptr;
};

}  // namespace rt
