#pragma once
// Runs a test body in a forked child, for tests that take away the process's rights
// (capabilities, rlimits, seccomp) or change process-wide malloc settings. Not gtest's
// death tests: their pipe protocol hangs under qemu-user, and they cannot skip.
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <string>

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

// What run_in_child_capturing_stderr saw: the status as run_in_child gives it, and
// everything the child wrote to stderr (where the sanitizers report).
struct ChildOutput {
  int status = -1;
  std::string err;
};

// As run_in_child, with the child's stderr captured through a pipe.
template <class F>
ChildOutput run_in_child_capturing_stderr(F&& body) {
  ChildOutput out;
  int fds[2];
  if (pipe(fds) != 0) {
    out.err = "pipe() failed";
    return out;
  }
  const pid_t pid = fork();
  if (pid < 0) {
    close(fds[0]);
    close(fds[1]);
    out.err = "fork() failed";
    return out;
  }
  if (pid == 0) {
    close(fds[0]);
    if (dup2(fds[1], STDERR_FILENO) < 0) _exit(125);
    close(fds[1]);
    body();
    _exit(0);
  }
  close(fds[1]);
  char buf[4096];
  for (;;) {  // to EOF: the child (and anything it started) closed its end
    const ssize_t n = read(fds[0], buf, sizeof buf);
    if (n > 0) {
      out.err.append(buf, static_cast<std::size_t>(n));
    } else if (n == 0 || errno != EINTR) {
      break;
    }
  }
  close(fds[0]);
  int status = 0;
  while (waitpid(pid, &status, 0) < 0) {
    if (errno != EINTR) return out;
  }
  out.status = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  return out;
}

// The name of the emulator running the tests (ctest sets RT_TEST_EMULATOR for cross
// builds), or nullptr on real hardware. Page faults and seccomp under qemu-user are the
// emulator's, not the target's.
inline const char* emulator() { return std::getenv("RT_TEST_EMULATOR"); }

}  // namespace testing_support
