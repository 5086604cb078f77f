#include "signals.hpp"

namespace rt::cli {

namespace {

std::atomic<int> g_signal{0};
extern "C" void on_signal(int s) { g_signal.store(s, std::memory_order_relaxed); }

}  // namespace

const std::atomic<int>& caught_signal() noexcept { return g_signal; }

SignalGuard::SignalGuard() {
  g_signal.store(0, std::memory_order_relaxed);
  struct sigaction sa {};
  sa.sa_handler = on_signal;
  sa.sa_flags = SA_RESETHAND;  // a second Ctrl-C during a long drain ends the process
  sigemptyset(&sa.sa_mask);
  sigaction(SIGINT, &sa, &old_int_);
  sigaction(SIGTERM, &sa, &old_term_);
}

SignalGuard::~SignalGuard() {
  sigaction(SIGINT, &old_int_, nullptr);
  sigaction(SIGTERM, &old_term_, nullptr);
}

}  // namespace rt::cli
