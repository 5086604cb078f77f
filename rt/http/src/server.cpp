// Server: cpp-httplib around Api, with R8's limits. Every request, whatever its method
// and path, goes to Api::handle (it routes, so a wrong method is a JSON 405 and an unknown
// path a JSON 404); what httplib answers itself (a malformed request line, a body over
// the limit) gets its JSON body in the error handler.
#include "rthttp/server.hpp"

#include <httplib.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <cmath>
#include <condition_variable>
#include <cstdio>
#include <deque>
#include <functional>
#include <future>
#include <mutex>
#include <stdexcept>
#include <thread>
#include <unordered_map>

#include "hal/clock.hpp"
#include "hal/cpu.hpp"
#include "hal/thread.hpp"

namespace rt::http {

namespace {

thread_local bool t_overflow = false;  // this thread answers 503 to whatever it is given

// httplib hands each accepted connection to a TaskQueue. This one serves at most
// `threads` connections at once, queues `max_pending` more, and gives the rest to one
// thread that answers them 503 at once, so a flood of connections can neither grow an
// unbounded backlog of work nor hold the connections already being served.
class BoundedPool final : public httplib::TaskQueue {
 public:
  BoundedPool(std::size_t threads, std::size_t max_pending, std::atomic<std::uint64_t>& overflowed,
              std::vector<int> cpus)
      : max_pending_(max_pending), overflowed_(overflowed), cpus_(std::move(cpus)) {
    for (std::size_t i = 0; i < threads; ++i)
      workers_.emplace_back([this] { serve(jobs_, false); });
    workers_.emplace_back([this] { serve(overflow_, true); });
  }
  ~BoundedPool() override { shutdown(); }
  BoundedPool(const BoundedPool&) = delete;
  BoundedPool& operator=(const BoundedPool&) = delete;

  void enqueue(std::function<void()> fn) override {
    {
      const std::lock_guard lk(mu_);
      if (jobs_.size() < max_pending_) {
        jobs_.push_back(std::move(fn));
      } else {
        overflowed_.fetch_add(1, std::memory_order_relaxed);
        overflow_.push_back(std::move(fn));
      }
    }
    cv_.notify_all();
  }

  void shutdown() override {
    {
      const std::lock_guard lk(mu_);
      if (stop_) return;
      stop_ = true;
    }
    cv_.notify_all();
    for (std::thread& t : workers_)
      t.join();
  }

 private:
  void serve(std::deque<std::function<void()>>& q, bool overflow) {
    t_overflow = overflow;
    (void)hal::set_current_affinity(cpus_);  // the listener has reported a failure already
    for (;;) {
      std::function<void()> fn;
      {
        std::unique_lock lk(mu_);
        cv_.wait(lk, [&] { return stop_ || !q.empty(); });
        // Queued connections are still served at shutdown: each job closes its socket.
        if (q.empty()) return;
        fn = std::move(q.front());
        q.pop_front();
      }
      fn();
    }
  }

  const std::size_t max_pending_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::function<void()>> jobs_, overflow_;
  bool stop_ = false;
  std::atomic<std::uint64_t>& overflowed_;  // the Server's: the pool dies with each listen()
  const std::vector<int> cpus_;
  std::vector<std::thread> workers_;
};

// A token bucket per client address: `rate` per second, `burst` deep. The table is
// capped; past the cap, the least recently seen address is forgotten (a fresh bucket is
// full, so forgetting errs toward letting a request through, never toward refusing one).
class RateLimiter {
 public:
  RateLimiter(double rate, double burst) : rate_(rate), burst_(std::max(burst, 1.0)) {}

  // 0 when `client` may go on now; otherwise the seconds until it may (Retry-After).
  int admit(const std::string& client, ns_t now) {
    if (rate_ <= 0) return 0;
    const std::lock_guard lk(mu_);
    auto it = buckets_.find(client);
    if (it == buckets_.end()) {
      if (buckets_.size() >= kMaxClients) evict_oldest();
      it = buckets_.emplace(client, Bucket{burst_, now}).first;
    }
    Bucket& b = it->second;
    b.tokens = std::min(burst_, b.tokens + static_cast<double>(now - b.at) * 1e-9 * rate_);
    b.at = now;
    if (b.tokens >= 1.0) {
      b.tokens -= 1.0;
      return 0;
    }
    return std::max(1, static_cast<int>(std::ceil((1.0 - b.tokens) / rate_)));
  }

 private:
  static constexpr std::size_t kMaxClients = 1024;
  struct Bucket {
    double tokens;
    ns_t at;
  };
  void evict_oldest() {
    auto oldest = buckets_.begin();
    for (auto it = buckets_.begin(); it != buckets_.end(); ++it) {
      if (it->second.at < oldest->second.at) oldest = it;
    }
    buckets_.erase(oldest);
  }
  const double rate_, burst_;
  std::mutex mu_;
  std::unordered_map<std::string, Bucket> buckets_;
};

// The request line and the headers as they came on the wire (near enough: httplib has
// parsed them; the separators are counted back in).
std::size_t header_bytes(const httplib::Request& req) {
  std::size_t n = req.method.size() + req.target.size() + req.version.size() + 4;
  for (const auto& [k, v] : req.headers)
    n += k.size() + v.size() + 4;
  return n;
}

void set_json(httplib::Response& res, const Response& r) {
  res.status = r.status;
  for (const auto& [k, v] : r.headers)
    res.set_header(k, v);
  res.set_content(r.body, r.content_type);
}

std::string number(double v) {
  std::array<char, 32> b{};
  (void)std::snprintf(b.data(), b.size(), "%g", v);
  return b.data();
}

std::chrono::microseconds us(ns_t ns) { return std::chrono::microseconds(ns / 1000); }

}  // namespace

struct Server::Impl {
  Impl(Api& a, ServerConfig c) : api(a), cfg(std::move(c)), limiter(cfg.rate, cfg.burst) {}

  Api& api;
  const ServerConfig cfg;
  RateLimiter limiter;
  httplib::Server svr;
  std::thread listener;
  int port = -1;
  std::atomic<std::uint64_t> rate_limited{0}, too_large{0}, headers_too_large{0}, unauthorized{0}, overloaded{0};

  void install();
  void serve(const httplib::Request& req, httplib::Response& res);
  void log(const httplib::Request& req, int status) const;
};

void Server::Impl::install() {
  // httplib owns (and deletes) the queue it gets.
  svr.new_task_queue = [this] { return new BoundedPool(cfg.max_connections, cfg.max_pending, overloaded, cfg.cpus); };
  // Headers and body go out in separate writes: without TCP_NODELAY, Nagle holds the body
  // for the client's delayed ACK, ~40 ms per answer on a kept-alive connection.
  svr.set_tcp_nodelay(true);
  svr.set_read_timeout(us(cfg.read_timeout));
  svr.set_write_timeout(us(cfg.write_timeout));
  svr.set_payload_max_length(cfg.max_body_bytes);
  // An idle keep-alive connection holds one of the few serving threads: not for long.
  svr.set_keep_alive_timeout(2);
  svr.set_keep_alive_max_count(100);

  svr.set_pre_routing_handler([this](const httplib::Request& req, httplib::Response& res) {
    using H = httplib::Server::HandlerResponse;
    if (t_overflow) {
      Response r = error_response(503, "overloaded", "the server is serving as many connections as it may");
      r.headers.emplace_back("Retry-After", "1");
      r.headers.emplace_back("Connection", "close");
      set_json(res, r);
      log(req, 503);
      return H::Handled;
    }
    if (header_bytes(req) > cfg.max_header_bytes) {
      headers_too_large.fetch_add(1, std::memory_order_relaxed);
      set_json(res, error_response(
                        431, "request_header_fields_too_large",
                        "the request line and headers exceed " + std::to_string(cfg.max_header_bytes) + " bytes"));
      log(req, 431);
      return H::Handled;
    }
    if (const int wait = limiter.admit(req.remote_addr, hal::now_ns()); wait > 0) {
      rate_limited.fetch_add(1, std::memory_order_relaxed);
      Response r = error_response(429, "too_many_requests",
                                  "more than " + number(cfg.rate) + " requests per second from this client");
      r.headers.emplace_back("Retry-After", std::to_string(wait));
      set_json(res, r);
      log(req, 429);
      return H::Handled;
    }
    return H::Unhandled;
  });
  const auto handler = [this](const httplib::Request& req, httplib::Response& res) { serve(req, res); };
  svr.Get(".*", handler);
  svr.Post(".*", handler);
  svr.Put(".*", handler);
  svr.Delete(".*", handler);
  svr.Patch(".*", handler);
  svr.Options(".*", handler);

  // What httplib answered itself (400 malformed, 413 over the body limit, 414...) has no
  // body yet: give it the JSON one every error has.
  const auto on_error = [this](const httplib::Request& req, httplib::Response& res) {
    using H = httplib::Server::HandlerResponse;
    if (!res.body.empty()) return H::Unhandled;  // ours, logged where it was made
    switch (res.status) {
      case 413:
        too_large.fetch_add(1, std::memory_order_relaxed);
        set_json(res, error_response(413, "payload_too_large",
                                     "the body exceeds " + std::to_string(cfg.max_body_bytes) + " bytes"));
        break;
      case 414:
        set_json(res, error_response(414, "uri_too_long", "the request target is too long"));
        break;
      case 431:
        set_json(res, error_response(431, "request_header_fields_too_large", "the headers are too large"));
        break;
      default:
        set_json(res, error_response(res.status, "bad_request",
                                     "the request could not be read (" + std::to_string(res.status) + ")"));
        break;
    }
    // These answers reach the access log too (a request httplib could not parse has no
    // method or path yet).
    log(req, res.status);
    return H::Handled;
  };
  svr.set_error_handler(httplib::Server::HandlerWithResponse(on_error));
  svr.set_exception_handler([](const httplib::Request&, httplib::Response& res, const std::exception_ptr& ep) {
    std::string what = "an unknown exception";
    try {
      std::rethrow_exception(ep);
    } catch (const std::exception& e) {
      what = e.what();
    } catch (...) {
    }
    set_json(res, error_response(500, "internal_error", what));
  });
}

void Server::Impl::log(const httplib::Request& req, int status) const {
  if (!cfg.access_log) return;
  Request r;
  r.method = req.method;
  r.path = req.path;
  r.remote = req.remote_addr;
  cfg.access_log(r, status);
}

void Server::Impl::serve(const httplib::Request& req, httplib::Response& res) {
  Request r;
  r.method = req.method;
  r.path = req.path;
  if (const std::size_t q = req.target.find('?'); q != std::string::npos) r.query = req.target.substr(q + 1);
  r.body = req.body;
  r.authorization = req.get_header_value("Authorization");
  r.remote = req.remote_addr;
  const Response out = api.handle(r);
  if (out.status == 401) unauthorized.fetch_add(1, std::memory_order_relaxed);
  set_json(res, out);
  log(req, out.status);
}

Server::Server(Api& api, ServerConfig cfg) : impl_(std::make_unique<Impl>(api, std::move(cfg))) { impl_->install(); }

Server::~Server() { stop(); }

void Server::start() {
  Impl& m = *impl_;
  if (m.listener.joinable()) throw std::logic_error("the HTTP server is already running");
  if (m.cfg.port == 0) {
    m.port = m.svr.bind_to_any_port(m.cfg.bind);
  } else {
    m.port = m.svr.bind_to_port(m.cfg.bind, m.cfg.port) ? m.cfg.port : -1;
  }
  if (m.port < 0)
    throw std::runtime_error("cannot listen on " + m.cfg.bind + ":" + std::to_string(m.cfg.port) +
                             " (in use, not an address of this machine, or a privileged port)");
  // The listener applies the CPU list to itself and says how that went before it serves,
  // so a bad list fails start() loudly instead of a thread later.
  std::promise<hal::Status> pinned;
  std::future<hal::Status> pinned_result = pinned.get_future();
  m.listener = std::thread([&m, &pinned] {
    const hal::Status st = hal::set_current_affinity(m.cfg.cpus);
    const bool ok = st.ok();
    pinned.set_value(st);
    if (ok) m.svr.listen_after_bind();
  });
  if (const hal::Status st = pinned_result.get(); !st.ok()) {
    m.listener.join();
    throw std::runtime_error("the HTTP server cannot run on CPUs " + hal::format_cpu_list(m.cfg.cpus) + ": " +
                             st.message());
  }
}

void Server::stop() {
  Impl& m = *impl_;
  if (!m.listener.joinable()) return;
  m.svr.stop();
  m.listener.join();
}

int Server::port() const noexcept { return impl_->port; }
bool Server::running() const noexcept { return impl_->listener.joinable() && impl_->svr.is_running(); }

Server::Counts Server::counts() const noexcept {
  const Impl& m = *impl_;
  return Counts{.rate_limited = m.rate_limited.load(std::memory_order_relaxed),
                .too_large = m.too_large.load(std::memory_order_relaxed),
                .headers_too_large = m.headers_too_large.load(std::memory_order_relaxed),
                .unauthorized = m.unauthorized.load(std::memory_order_relaxed),
                .overloaded = m.overloaded.load(std::memory_order_relaxed)};
}

}  // namespace rt::http
