#pragma once
// R8: the HTTP server around Api (cpp-httplib): loopback by default, size limits (413,
// 431), a per-client request rate (429 + Retry-After), read and write timeouts, a cap on
// the connections served at once, and every error as a JSON body. Its threads are plain
// SCHED_OTHER threads, unpinned; the engine's RT threads never wait for them.
#include <cstddef>
#include <functional>
#include <memory>
#include <string>

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
  std::size_t max_pending = 64;     // beyond it: 503 at once
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

  // Binds and starts serving on a thread of its own. Throws std::runtime_error naming the
  // address when it cannot bind (in use, no permission, bad address).
  void start();
  // Stops accepting, finishes the requests being served, joins its threads. Idempotent.
  void stop();
  [[nodiscard]] int port() const noexcept;  // the bound port (after start)
  [[nodiscard]] bool running() const noexcept;

  struct Counts {
    std::uint64_t rate_limited = 0, too_large = 0, headers_too_large = 0, unauthorized = 0, overloaded = 0;
  };
  [[nodiscard]] Counts counts() const noexcept;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace rt::http
