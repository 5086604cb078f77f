// Positive control for the compile_fail tests: the same submission as the failing files,
// with captures InlineFn accepts (a pointer, a reference, a fixed-size value). It must
// compile through the same harness, or a broken harness (wrong include path, wrong
// compiler, missing target) would make every compile_fail test pass for the wrong reason.
#include <array>
#include <string>

#include "rt/engine.hpp"

rt::SubmitStatus submit(rt::Producer& p, std::string* name, int& count) {
  const std::array<int, 4> gains{1, 2, 3, 4};
  return p.try_submit([name, &count, gains] { count += static_cast<int>(name->size()) + gains[0]; });
}
