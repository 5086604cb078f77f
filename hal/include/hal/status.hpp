#pragma once
// The outcome of an OS call: an errno value and the name of the call that produced it.
// Trivially copyable and allocation-free so the run path can return it; message()
// formats it for people and is setup-only.
#include <cerrno>
#include <string>

namespace hal {

struct [[nodiscard]] Status {
  int err = 0;          // errno value; 0 means success
  const char* op = "";  // the failing call, a string literal

  constexpr bool ok() const noexcept { return err == 0; }
  explicit constexpr operator bool() const noexcept { return ok(); }

  // Setup only: allocates. "op: strerror text (ERRNAME)".
  std::string message() const;
};

constexpr Status ok_status() noexcept { return {}; }

// RT: wait-free; reads errno, no allocation.
inline Status errno_status(const char* op) noexcept { return Status{errno != 0 ? errno : EIO, op}; }

// liburing and raw syscalls return -errno; this turns that into a Status.
// RT: wait-free; no allocation.
constexpr Status neg_errno_status(int ret, const char* op) noexcept { return ret < 0 ? Status{-ret, op} : Status{}; }

}  // namespace hal
