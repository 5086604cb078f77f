#pragma once
// A type-erased callable stored inline in a fixed buffer: no heap, ever. A callable that
// does not fit is a compile error naming the capacity, not a silent allocation.
#include <cstddef>
#include <new>
#include <type_traits>
#include <utility>

namespace rt {

template <std::size_t Capacity, class... Args>
class InlineFn {
 public:
  static constexpr std::size_t kCapacity = Capacity;

  InlineFn() noexcept = default;
  InlineFn(const InlineFn&) = delete;
  InlineFn& operator=(const InlineFn&) = delete;
  ~InlineFn() { reset(); }

  // Constructs F in place, destroying what was there. RT: no allocation.
  template <class F>
  void emplace(F&& f) noexcept(std::is_nothrow_constructible_v<std::decay_t<F>, F&&>) {
    using Fn = std::decay_t<F>;
    static_assert(sizeof(Fn) <= Capacity,
                  "callable too large for the task's inline storage: capture less (pointers, ids) or raise "
                  "rt::kTaskFnCapacity");
    static_assert(alignof(Fn) <= alignof(std::max_align_t), "callable over-aligned for the task's inline storage");
    static_assert(std::is_invocable_v<Fn&, Args...>, "callable does not take the task's arguments");
    reset();
    ::new (static_cast<void*>(buf_)) Fn(std::forward<F>(f));
    invoke_ = [](void* p, Args... args) { (*static_cast<Fn*>(p))(std::forward<Args>(args)...); };
    destroy_ = std::is_trivially_destructible_v<Fn> ? nullptr : +[](void* p) noexcept { static_cast<Fn*>(p)->~Fn(); };
  }

  // RT: as bounded as the callable; may throw what it throws.
  void operator()(Args... args) { invoke_(buf_, std::forward<Args>(args)...); }

  // RT: no allocation.
  void reset() noexcept {
    if (destroy_ != nullptr) destroy_(buf_);
    invoke_ = nullptr;
    destroy_ = nullptr;
  }
  explicit operator bool() const noexcept { return invoke_ != nullptr; }

 private:
  alignas(std::max_align_t) unsigned char buf_[Capacity]{};
  void (*invoke_)(void*, Args...) = nullptr;
  void (*destroy_)(void*) noexcept = nullptr;
};

}  // namespace rt
