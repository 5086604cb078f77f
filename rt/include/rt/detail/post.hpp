#pragma once
// A posted callable (Producer::try_post) as its class's post ring carries it: the
// callable's bytes and how to call them. The ring copies it as bytes, so it is trivially
// copyable; the callable obeys InlineFn's rule (trivially copyable, trivially
// destructible, at most kTaskFnCapacity bytes), so the copy is all it takes.
#include <cstddef>
#include <new>
#include <type_traits>
#include <utility>

#include "rt/inline_fn.hpp"
#include "rt/task.hpp"

namespace rt::detail {

struct PostItem {
  alignas(std::max_align_t) unsigned char buf[kTaskFnCapacity];
  void (*invoke)(void*, TaskContext&);

  // Stores `fn`, taken as f(TaskContext&) or f(). RT: wait-free; a byte copy.
  template <class F>
  void emplace(F&& fn) noexcept {
    using Fn = std::decay_t<F>;
    static_assert(sizeof(Fn) <= kTaskFnCapacity,
                  "callable too large for the task's inline storage: capture less (pointers, ids)");
    static_assert(alignof(Fn) <= alignof(std::max_align_t), "callable over-aligned for the task's inline storage");
    static_assert(InlineStorable<Fn>,
                  "a posted callable must be trivially copy-constructible and trivially destructible, as a task's "
                  "(rt/inline_fn.hpp): capture ids, pointers or fixed-size values");
    ::new (static_cast<void*>(buf)) Fn(std::forward<F>(fn));
    if constexpr (std::is_invocable_v<Fn&, TaskContext&>) {
      invoke = [](void* p, TaskContext& ctx) { (*static_cast<Fn*>(p))(ctx); };
    } else {
      static_assert(std::is_invocable_v<Fn&>, "a posted callable is callable as f(rt::TaskContext&) or f()");
      invoke = [](void* p, TaskContext&) { (*static_cast<Fn*>(p))(); };
    }
  }
};
static_assert(std::is_trivially_copyable_v<PostItem>, "post rings copy items as bytes");

}  // namespace rt::detail
