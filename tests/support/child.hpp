#pragma once
// Runs a test body in a forked child, for tests that take away the process's rights
// (capabilities, rlimits, seccomp) or change process-wide malloc settings. Not gtest's
// death tests: their pipe protocol hangs under qemu-user, and they cannot skip.
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>

namespace testing_support {

// A child exits with this when the environment cannot run the scenario (say, qemu-user
// has no seccomp); the parent turns it into GTEST_SKIP.
inline constexpr int kChildSkip = 77;

// The child's exit status, or 128 + the signal that killed it; -1 if fork failed.
template <class F>
int run_in_child(F&& body) {
  const pid_t pid = fork();
  if (pid < 0) return -1;
  if (pid == 0) {
    body();
    _exit(0);
  }
  int status = 0;
  while (waitpid(pid, &status, 0) < 0) {
  }
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

// The name of the emulator running the tests (ctest sets RT_TEST_EMULATOR for cross
// builds), or nullptr on real hardware. Page faults and seccomp under qemu-user are the
// emulator's, not the target's.
inline const char* emulator() { return std::getenv("RT_TEST_EMULATOR"); }

}  // namespace testing_support
