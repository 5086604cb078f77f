#pragma once
// R8: the HTTP server around Api (cpp-httplib): loopback by default, size limits (413,
// 431), a per-client request rate (429 + Retry-After), read and write timeouts, a cap on
// the connections served at once, and every error as a JSON body. Its threads are plain
// SCHED_OTHER threads, unpinned; the engine's RT threads never wait for them.
#include <cstddef>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "hal/clock.hpp"
#include "rt/types.hpp"
#include "rthttp/api.hpp"

namespace rt::http {

struct ServerConfig {
  std::string bind = "127.0.0.1";
  int port = 8080;                                      // 0: any free port (tests; port() says which)
  std::size_t max_body_bytes = std::size_t{64} * 1024;  // larger: 413
  std::size_t max_header_bytes = 8192;                  // the request line and headers together; larger: 431
  ns_t read_timeout = 5 * hal::kNsPerSec;
  ns_t write_timeout = 5 * hal::kNsPerSec;
  double rate = 50;                 // requests per second per client address; 0: no limit
  double burst = 100;               // the bucket's depth
  std::size_t max_connections = 8;  // served at once (threads); more wait in a short queue
  std::size_t max_pending = 64;     // beyond it: 503 at once...
  std::size_t max_overflow = 64;    // ...for this many more; beyond, they wait in the kernel's backlog
  // A connection older than this is shut down (0: never): httplib times out each read,
  // not each request, so a client trickling bytes would otherwise hold a thread for ever.
  ns_t max_connection_age = 30 * hal::kNsPerSec;
  // Connections one client address may hold (the newest beyond are cut); 0: no limit.
  // Off by default: it cannot tell an idle kept-alive connection of a busy local client
  // (all of them 127.0.0.1) from a slow attacker's, and cut the former between requests.
  std::size_t max_per_client = 0;
  // The CPUs the server's threads run on; empty: inherited. rtengine run gives it the
  // CPUs no RT thread is pinned to: on a kernel without PREEMPT_RT, the loopback TCP work
  // of a busy client on an RT worker's CPU costs that worker ~20 % at p99 even though
  // the server is SCHED_OTHER (bench/rt/http_bench.cpp).
  std::vector<int> cpus;
  // Called on the serving thread after each answer (an access log). The request it gets
  // has no body and no Authorization value: nothing secret reaches a log through it.
  std::function<void(const Request&, int status)> access_log;
};

class Server {
 public:
  // Setup: nothing listens until start().
  Server(Api& api, ServerConfig cfg);
  ~Server();  // stop()
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // Binds the port: throws std::runtime_error naming the address when it cannot (in use,
  // no permission, bad address). Separate from start() so a caller can learn that before
  // it starts anything else (the run binds before the engine starts). Idempotent.
  void bind();
  // Binds if not yet bound, and serves on threads of its own.
  void start();
  // Stops accepting, finishes the requests being served, joins its threads. Idempotent.
  void stop();
  [[nodiscard]] int port() const noexcept;  // the bound port (after start)
  [[nodiscard]] bool running() const noexcept;

  struct Counts {
    std::uint64_t rate_limited = 0, too_large = 0, headers_too_large = 0, unauthorized = 0, overloaded = 0;
    std::uint64_t reaped = 0;  // connections shut down (age, a client's share, an unread body), since start()
  };
  [[nodiscard]] Counts counts() const noexcept;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace rt::http
