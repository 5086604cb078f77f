#pragma once
// `rtengine run`'s HTTP front: the API server (rt/http) over the run's engine, its
// catalog of task types, its event history and the run's own metrics. Setup allocates
// and throws std::runtime_error naming the problem (an unreadable token file, an address
// in use); nothing here runs on an RT thread.
#include <memory>
#include <string>
#include <vector>

#include "assembly.hpp"
#include "rt/event_bus.hpp"
#include "rt/histogram.hpp"
#include "rt/log.hpp"
#include "rthttp/server.hpp"

namespace rt::cli {

// The bearer token: $RTENGINE_HTTP_TOKEN, else [http] token, else the first line of
// [http] token_file; "" when none is set. Throws naming the file when it cannot be read.
[[nodiscard]] std::string resolve_token(const config::HttpSettings& h);

// 127.0.0.0/8, ::1 (and ::ffff:127.x.y.z) or "localhost": an address only this machine can
// reach. Anything else, a host name included, is taken as reachable from the network.
[[nodiscard]] bool is_loopback(const std::string& address);

// The CPUs for the HTTP server's threads: the online CPUs no engine thread (worker,
// monitor) is pinned to; when every CPU has one, those without a periodic loop's worker;
// empty (not pinned) when nothing is pinned or that leaves nothing.
[[nodiscard]] std::vector<int> housekeeping_cpus(const config::AppConfig& c);

class HttpFront {
 public:
  // `frames`: the run's graph frame-latency histograms, by graph (served as metrics).
  // Every argument outlives the front.
  HttpFront(const config::AppConfig& c, Engine& e, const Assembly& as, const EventBus& bus, Logger& log,
            const std::vector<std::unique_ptr<Histogram>>& frames);
  ~HttpFront();
  HttpFront(const HttpFront&) = delete;
  HttpFront& operator=(const HttpFront&) = delete;

  void bind();               // takes the port; throws naming the address when it cannot
  void start();              // serves (binds first if bind() was not called)
  void stopping() noexcept;  // state-changing calls answer 503 from now on
  void stop();               // stops listening and serving
  [[nodiscard]] int port() const noexcept;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace rt::cli
