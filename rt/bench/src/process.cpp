// Child processes for rtengine bench: run one to completion with a time limit, or keep
// one running in the background. Each child leads its own process group, so a timeout or
// a stop reaches whatever it started too (stress-ng's workers, a shell's children).
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <cerrno>
#include <climits>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <utility>

#include "hal/clock.hpp"
#include "output.hpp"
#include "rtbench/tools.hpp"

namespace rt::bench {

namespace detail {

namespace {

bool contains_nocase(std::string_view text, std::string_view word) {
  const auto it = std::search(text.begin(), text.end(), word.begin(), word.end(), [](char a, char b) {
    return std::tolower(static_cast<unsigned char>(a)) == std::tolower(static_cast<unsigned char>(b));
  });
  return it != text.end();
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front())) != 0)
    s.remove_prefix(1);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back())) != 0)
    s.remove_suffix(1);
  return s;
}

}  // namespace

std::string telling_line(std::string_view output) {
  static constexpr std::array<std::string_view, 9> kError{"error", "unable", "illegal",       "invalid", "cannot",
                                                          "can't", "fail",   "not permitted", "no such"};
  std::string_view warning, last;
  std::string_view found;
  for_each_line(output, [&](std::string_view line) {
    line = trim(line);
    if (line.empty() || !found.empty()) return;
    last = line;
    // oslat frames its error with bare "ERROR:" lines.
    if (line.size() <= 8) return;
    for (const auto w : kError) {
      if (contains_nocase(line, w)) {
        found = line;
        return;
      }
    }
    if (warning.empty() && contains_nocase(line, "warning")) warning = line;
  });
  const std::string_view pick = !found.empty() ? found : !warning.empty() ? warning : last;
  return std::string(pick.substr(0, 200));
}

}  // namespace detail

std::string program_unavailable(const std::string& program, std::string_view package) {
  if (program.empty() || program == "none") return "turned off";
  // access(X_OK) alone accepts a directory.
  const auto executable = [](const std::filesystem::path& p) {
    struct stat st {};
    return ::stat(p.c_str(), &st) == 0 && S_ISREG(st.st_mode) && access(p.c_str(), X_OK) == 0;
  };
  if (program.find('/') != std::string::npos)
    return executable(program) ? std::string() : program + " is not an executable file";
  const char* path = std::getenv("PATH");
  // posix_spawnp's default when PATH is unset.
  std::string_view dirs = path != nullptr ? path : "/bin:/usr/bin";
  while (!dirs.empty()) {
    const auto colon = dirs.find(':');
    const std::string_view dir = dirs.substr(0, colon);
    if (!dir.empty() && executable(std::filesystem::path(dir) / program)) return {};
    if (colon == std::string_view::npos) break;
    dirs.remove_prefix(colon + 1);
  }
  return program + " not found in PATH (Debian: apt install " + std::string(package) + ")";
}

namespace {

std::string errno_text(const char* what, int err) { return std::string(what) + ": " + std::strerror(err); }

// Spawns argv in a new process group (its pgid is its pid), stdin from /dev/null, stdout
// and stderr into `out_fd`. Returns the pid, or -1 and `error`.
pid_t spawn(const std::vector<std::string>& argv, int out_fd, std::string& error) {
  if (argv.empty() || argv[0].empty()) {
    error = "no program to run";
    return -1;
  }
  // Found out before the spawn: under qemu-user a failed exec in posix_spawn's child is
  // not reported to the parent (the child exits 127, as if the program had).
  if (!program_unavailable(argv[0], "").empty()) {
    const bool exists = argv[0].find('/') != std::string::npos && access(argv[0].c_str(), F_OK) == 0;
    error = "cannot run " + argv[0] + ": " + std::strerror(exists ? EACCES : ENOENT);
    return -1;
  }
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
  // dup2 clears close-on-exec on the copies; our own fds (out_fd, others') keep it.
  posix_spawn_file_actions_adddup2(&actions, out_fd, STDOUT_FILENO);
  posix_spawn_file_actions_adddup2(&actions, out_fd, STDERR_FILENO);
  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  posix_spawnattr_setpgroup(&attr, 0);
  sigset_t none, defaults;
  sigemptyset(&none);
  posix_spawnattr_setsigmask(&attr, &none);
  // Ignored signals survive exec: a bench started with SIGALRM ignored would leave oslat
  // (which stops on alarm()) running until killed; a program must die of SIGTERM and SIGPIPE.
  sigemptyset(&defaults);
  for (const int sig : {SIGALRM, SIGTERM, SIGINT, SIGQUIT, SIGPIPE, SIGCHLD})
    sigaddset(&defaults, sig);
  posix_spawnattr_setsigdefault(&attr, &defaults);
  posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
  std::vector<char*> args;
  args.reserve(argv.size() + 1);
  for (const auto& a : argv)
    args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  pid_t pid = -1;
  const int err = posix_spawnp(&pid, argv[0].c_str(), &actions, &attr, args.data(), environ);
  posix_spawnattr_destroy(&attr);
  posix_spawn_file_actions_destroy(&actions);
  if (err != 0) {
    error = "cannot run " + argv[0] + ": " + std::strerror(err);
    return -1;
  }
  return pid;
}

void sleep_ns(ns_t ns) noexcept {
  // An EINTR only shortens the sleep: every caller re-checks its deadline.
  const timespec ts{static_cast<time_t>(ns / hal::kNsPerSec), static_cast<long>(ns % hal::kNsPerSec)};
  (void)nanosleep(&ts, nullptr);
}

// True when `pid` has exited by `deadline`; it is left a zombie (WNOWAIT), so its pid,
// and its process group's id, cannot be reused until it is reaped.
bool exited_by(pid_t pid, ns_t deadline) noexcept {
  for (;;) {
    siginfo_t info{};
    if (waitid(P_PID, static_cast<id_t>(pid), &info, WEXITED | WNOHANG | WNOWAIT) == 0) {
      if (info.si_pid == pid) return true;
    } else if (errno != EINTR) {
      return true;  // ECHILD: nothing left to wait for
    }
    const ns_t left = deadline - hal::now_ns();
    if (left <= 0) return false;
    sleep_ns(std::min<ns_t>(left, 5 * hal::kNsPerMs));
  }
}

int reap(pid_t pid) noexcept {
  int status = 0;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  return status;
}

// Appends what `fd` gives until EOF (true) or `deadline` (false).
bool drain(int fd, ns_t deadline, std::string& out) {
  for (;;) {
    const ns_t left = deadline - hal::now_ns();
    if (left <= 0) return false;
    pollfd p{fd, POLLIN, 0};
    const int n = poll(&p, 1, static_cast<int>(std::min<ns_t>(left / hal::kNsPerMs + 1, INT_MAX)));
    if (n < 0 && errno != EINTR) return true;
    if (n <= 0) continue;
    char buf[4096];
    const ssize_t got = read(fd, buf, sizeof buf);
    if (got > 0) {
      out.append(buf, static_cast<std::size_t>(got));
    } else if (got == 0 || (errno != EINTR && errno != EAGAIN)) {
      return true;
    }
  }
}

std::string status_text(int status) {
  if (WIFEXITED(status)) return "exit status " + std::to_string(WEXITSTATUS(status));
  if (WIFSIGNALED(status)) return "killed by signal " + std::to_string(WTERMSIG(status));
  return "status " + std::to_string(status);
}

std::string seconds_text(ns_t ns) {
  const auto tenths = ns / (hal::kNsPerSec / 10);
  return std::to_string(tenths / 10) + "." + std::to_string(tenths % 10) + " s";
}

}  // namespace

ProgramResult run_program(const std::vector<std::string>& argv, ns_t timeout) {
  ProgramResult r;
  int fds[2];
  if (pipe2(fds, O_CLOEXEC) != 0) {
    r.error = errno_text("pipe2", errno);
    return r;
  }
  const pid_t pid = spawn(argv, fds[1], r.error);
  close(fds[1]);  // the child's copies are its only writers: EOF when they are all closed
  if (pid < 0) {
    close(fds[0]);
    return r;
  }
  const ns_t deadline = hal::now_ns() + timeout;
  // Its output closes when it exits, unless something it started still holds it: then
  // the deadline ends both waits.
  bool in_time = drain(fds[0], deadline, r.output);
  close(fds[0]);
  if (in_time) in_time = exited_by(pid, deadline);
  // While it is unreaped its group id stays ours: this kills nothing else.
  (void)kill(-pid, SIGKILL);
  const int status = reap(pid);
  if (!in_time) {
    r.error = argv[0] + ": killed after running longer than its " + seconds_text(timeout);
  } else if (WIFEXITED(status)) {
    r.exit_status = WEXITSTATUS(status);
    if (r.exit_status != 0) r.error = argv[0] + ": " + status_text(status);
  } else {
    r.error = argv[0] + ": " + status_text(status);
  }
  if (!r.error.empty()) {
    if (const std::string why = detail::telling_line(r.output); !why.empty()) r.error += ": " + why;
  }
  return r;
}

Background::Background(Background&& o) noexcept : pid_(std::exchange(o.pid_, -1)) {}

Background& Background::operator=(Background&& o) noexcept {
  if (this != &o) {
    stop();
    pid_ = std::exchange(o.pid_, -1);
  }
  return *this;
}

Background::~Background() { stop(); }

std::string Background::start(const std::vector<std::string>& argv, ns_t settle) {
  if (running()) return "already running " + std::to_string(pid_);
  // A memory file, not a pipe: nobody reads it while the program runs, and a pipe would
  // block it once full.
  const int out = memfd_create("rtbench-output", MFD_CLOEXEC);
  if (out < 0) return errno_text("memfd_create", errno);
  std::string error;
  const pid_t pid = spawn(argv, out, error);
  if (pid < 0) {
    close(out);
    return error;
  }
  if (!exited_by(pid, hal::now_ns() + settle)) {
    close(out);
    pid_ = pid;
    return {};
  }
  (void)kill(-pid, SIGKILL);
  const int status = reap(pid);
  std::string output;
  char buf[4096];
  for (off_t at = 0;;) {
    const ssize_t got = pread(out, buf, sizeof buf, at);
    if (got < 0 && errno == EINTR) continue;
    if (got <= 0) break;
    output.append(buf, static_cast<std::size_t>(got));
    at += got;
  }
  close(out);
  error = argv[0] + ": exited within " + seconds_text(settle) + " (" + status_text(status) + ")";
  if (const std::string why = detail::telling_line(output); !why.empty()) error += ": " + why;
  return error;
}

void Background::stop() noexcept {
  if (pid_ <= 0) return;
  // stress-ng passes SIGTERM on to its workers and reaps them before it exits.
  (void)kill(-pid_, SIGTERM);
  (void)exited_by(pid_, hal::now_ns() + 2 * hal::kNsPerSec);
  // The leader is unreaped here, so the group id is still ours: whatever ignored SIGTERM
  // (or was left behind) goes now.
  (void)kill(-pid_, SIGKILL);
  (void)reap(pid_);
  pid_ = -1;
}

}  // namespace rt::bench
