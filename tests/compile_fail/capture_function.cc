// Must not compile: a std::function capture owns heap memory (and its copy may throw).
// Expected: InlineFn's "trivially copy-constructible" static_assert.
#include <functional>

#include "rt/engine.hpp"

rt::SubmitStatus submit(rt::Producer& p, const std::function<void()>& f) {
  return p.try_submit([f] { f(); });
}
