// Must not compile: add_periodic stores its callable the same way as try_submit, so the
// same rule holds there. Expected: InlineFn's "trivially copy-constructible" static_assert.
#include <string>

#include "rt/engine.hpp"

int add(rt::Engine& e, const std::string& name) {
  return e.add_periodic(rt::PeriodicSpec{}, [name](rt::TaskContext&) { (void)name.size(); });
}
