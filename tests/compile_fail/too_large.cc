// Must not compile: a 72-byte capture in the 64-byte inline buffer (rt::kTaskFnCapacity).
// Trivially copyable, so only the size rule can refuse it. Expected: InlineFn's "callable
// too large" static_assert.
#include <array>

#include "rt/engine.hpp"

rt::SubmitStatus submit(rt::Producer& p, const std::array<double, 9>& gains) {
  static_assert(sizeof(gains) > rt::kTaskFnCapacity);
  return p.try_submit([gains] { (void)gains[0]; });
}
