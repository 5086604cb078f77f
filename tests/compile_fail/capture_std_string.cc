// Must not compile: a std::string capture would malloc in the submitter's copy and free on
// the worker. Expected: InlineFn's "trivially copy-constructible" static_assert.
#include <string>

#include "rt/engine.hpp"

rt::SubmitStatus submit(rt::Producer& p, const std::string& name) {
  return p.try_submit([name] { (void)name.size(); });
}
