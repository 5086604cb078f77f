// Server: cpp-httplib around Api, with R8's limits. Every request, whatever its method
// and path, goes to Api::handle (it routes, so a wrong method is a JSON 405 and an unknown
// path a JSON 404); what httplib answers itself (a malformed request line, a body over
// the limit) gets its JSON body in the error handler.
#include "rthttp/server.hpp"

#include <httplib.h>
#include <sys/socket.h>

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
#include <optional>
#include <stdexcept>
#include <thread>
#include <unordered_map>

#include "connections.hpp"
#include "hal/clock.hpp"
#include "hal/cpu.hpp"
#include "hal/thread.hpp"

namespace rt::http {

namespace {

thread_local bool t_close_after = false;         // shut this connection down once its answer is out
thread_local std::optional<Response> t_verdict;  // the answer to give once the body is read

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
  std::atomic<bool> listener_done{false};
  int port = -1;
  std::unique_ptr<detail::ConnectionReaper> reaper;
  std::mutex pool_mu;
  detail::BoundedPool* pool = nullptr;  // httplib's, while its listen() runs
  std::atomic<std::uint64_t> rate_limited{0}, too_large{0}, headers_too_large{0}, unauthorized{0}, overloaded{0};

  void install();
  void serve(const httplib::Request& req, httplib::Response& res);
  void log(const httplib::Request& req, int status) const;
};

void Server::Impl::install() {
  // httplib owns (and deletes) the queue it gets.
  svr.new_task_queue = [this] {
    const std::lock_guard lk(pool_mu);
    const auto forget = [this] {
      const std::lock_guard lk2(pool_mu);
      pool = nullptr;
    };
    pool = new detail::BoundedPool(cfg.max_connections, cfg.max_pending, cfg.max_overflow, overloaded, cfg.cpus, forget,
                                   [this] { reaper->on_accept(); });
    return pool;
  };
  // SO_REUSEADDR only: httplib's default adds SO_REUSEPORT, with which a second engine
  // binds the same port and the kernel splits the clients (and their tokens) between them.
  svr.set_socket_options([](socket_t sock) {
    int yes = 1;
    (void)setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof yes);
  });
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
    t_verdict.reset();
    // An answer made here comes before httplib reads the body the request may declare,
    // which would then be read as the next request. So: the 503 and 411 below shut the
    // connection once written (the logger below); a 431 or 429 for a request with a
    // (bounded) body is kept until httplib has read it, and given by serve().
    const bool has_body = req.has_header("Content-Length") && req.get_header_value("Content-Length") != "0";
    const auto answer = [&](Response r, int status) {
      if (has_body) {
        t_verdict = std::move(r);
        return H::Unhandled;
      }
      set_json(res, r);
      log(req, status);
      return H::Handled;
    };
    if (detail::on_overflow_thread()) {
      Response r = error_response(503, "overloaded", "the server is serving as many connections as it may");
      r.headers.emplace_back("Retry-After", "1");
      r.headers.emplace_back("Connection", "close");
      set_json(res, r);
      log(req, 503);
      t_close_after = true;
      return H::Handled;
    }
    // httplib 0.11 applies the body limit to Content-Length bodies only: a chunked one
    // would be read whole, into memory mlockall has locked. A client sends a length.
    if (req.has_header("Transfer-Encoding")) {
      too_large.fetch_add(1, std::memory_order_relaxed);
      Response r = error_response(411, "length_required",
                                  "send the body with a Content-Length (at most " + std::to_string(cfg.max_body_bytes) +
                                      " bytes), not Transfer-Encoding");
      r.headers.emplace_back("Connection", "close");
      set_json(res, r);
      log(req, 411);
      t_close_after = true;
      return H::Handled;
    }
    if (header_bytes(req) > cfg.max_header_bytes) {
      headers_too_large.fetch_add(1, std::memory_order_relaxed);
      return answer(
          error_response(431, "request_header_fields_too_large",
                         "the request line and headers exceed " + std::to_string(cfg.max_header_bytes) + " bytes"),
          431);
    }
    if (const int wait = limiter.admit(req.remote_addr, hal::now_ns()); wait > 0) {
      rate_limited.fetch_add(1, std::memory_order_relaxed);
      Response r = error_response(429, "too_many_requests",
                                  "more than " + number(cfg.rate) + " requests per second from this client");
      r.headers.emplace_back("Retry-After", std::to_string(wait));
      return answer(std::move(r), 429);
    }
    // A POST, PUT or DELETE with neither Content-Length nor a chunked body (curl -X POST
    // sends none) has no body: httplib 0.11 would wait for one until the read timeout.
    // Answered here, before it tries.
    if (req.method != "GET" && req.method != "HEAD" && req.method != "OPTIONS" && !req.has_header("Content-Length")) {
      serve(req, res);
      return H::Handled;
    }
    return H::Unhandled;
  });
  // Called after every answer is written, on the connection's thread.
  svr.set_logger([this](const httplib::Request& req, const httplib::Response&) {
    if (!t_close_after) return;
    t_close_after = false;
    if (reaper) reaper->cut_peer(req.remote_addr + ":" + std::to_string(req.remote_port));
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
        // A 400 after a well-formed request line is a header httplib could not read: in
        // practice one longer than its fixed 8192-byte line limit (Debian's compiled
        // library), before our own max_header_bytes check could see it.
        // (A request that declared a body may instead have failed reading it.)
        if (res.status == 400 && (req.version == "HTTP/1.1" || req.version == "HTTP/1.0") &&
            !req.has_header("Content-Length")) {
          res.status = 431;
          headers_too_large.fetch_add(1, std::memory_order_relaxed);
          set_json(res, error_response(431, "request_header_fields_too_large",
                                       "a header line is longer than 8192 bytes (or malformed)"));
          break;
        }
        if (res.status == 400 && req.has_header("Content-Length")) {
          set_json(res, error_response(400, "bad_request",
                                       "the body could not be read: it ended before its Content-Length or took "
                                       "longer than the read timeout (or a header line exceeds 8192 bytes)"));
          break;
        }
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
  svr.set_exception_handler([this](const httplib::Request& req, httplib::Response& res, const std::exception_ptr& ep) {
    std::string what = "an unknown exception";
    try {
      std::rethrow_exception(ep);
    } catch (const std::exception& e) {
      what = e.what();
    } catch (...) {
    }
    set_json(res, error_response(500, "internal_error", what));
    log(req, 500);
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
  if (t_verdict) {  // decided before the body was read (pre-routing)
    set_json(res, *t_verdict);
    log(req, t_verdict->status);
    t_verdict.reset();
    return;
  }
  // The whole request is read: the reaper lets this connection finish its answer.
  const std::string peer = req.remote_addr + ":" + std::to_string(req.remote_port);
  if (reaper) reaper->busy(peer);
  struct Done {
    detail::ConnectionReaper* r;
    const std::string& peer;
    ~Done() {
      if (r != nullptr) r->done(peer);
    }
  } done{reaper.get(), peer};
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

void Server::bind() {
  Impl& m = *impl_;
  if (m.port >= 0) return;
  if (m.cfg.port == 0) {
    m.port = m.svr.bind_to_any_port(m.cfg.bind);
  } else {
    m.port = m.svr.bind_to_port(m.cfg.bind, m.cfg.port) ? m.cfg.port : -1;
  }
  if (m.port < 0)
    throw std::runtime_error("cannot listen on " + m.cfg.bind + ":" + std::to_string(m.cfg.port) +
                             " (in use, not an address of this machine, or a privileged port)");
}

void Server::start() {
  Impl& m = *impl_;
  if (m.listener.joinable()) throw std::logic_error("the HTTP server is already running");
  bind();
  // Before the listener serves: the serving threads and counts() read it from then on.
  {
    m.reaper = std::make_unique<detail::ConnectionReaper>(detail::ReaperConfig{.port = m.port,
                                                                               .max_age = m.cfg.max_connection_age,
                                                                               .max_per_client = m.cfg.max_per_client,
                                                                               .cpus = m.cfg.cpus});
    m.reaper->start();
  }
  // The listener applies the CPU list to itself and says how that went before it serves,
  // so a bad list fails start() loudly instead of a thread later.
  auto pinned = std::make_shared<std::promise<hal::Status>>();
  std::future<hal::Status> pinned_result = pinned->get_future();
  m.listener_done.store(false);
  m.listener = std::thread([&m, pinned] {
    const hal::Status st = hal::set_current_affinity(m.cfg.cpus);
    const bool ok = st.ok();
    pinned->set_value(st);
    if (ok) m.svr.listen_after_bind();
    m.listener_done.store(true, std::memory_order_release);
  });
  if (const hal::Status st = pinned_result.get(); !st.ok()) {
    m.listener.join();
    throw std::runtime_error("the HTTP server cannot run on CPUs " + hal::format_cpu_list(m.cfg.cpus) + ": " +
                             st.message());
  }
  // httplib's stop() does nothing until listen has set its running flag: wait for it, so a
  // stop() right after start() cannot leave the listener serving forever.
  while (!m.svr.is_running() && !m.listener_done.load(std::memory_order_acquire))
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
}

void Server::stop() {
  Impl& m = *impl_;
  if (!m.listener.joinable()) return;
  m.svr.stop();
  // The accept loop may wait in the pool for room (release), and serving threads in a
  // slow client's read (cut): both end now, until the listener has returned. A request
  // being answered gets write_timeout to finish before its connection is cut too.
  const ns_t grace_end = hal::now_ns() + m.cfg.write_timeout;
  while (!m.listener_done.load(std::memory_order_acquire)) {
    {
      const std::lock_guard lk(m.pool_mu);
      if (m.pool != nullptr) m.pool->release();
    }
    // Without /proc nothing can be cut: the join waits for httplib's own timeouts.
    if (!m.reaper->available()) break;
    (void)m.reaper->cut_all(/*busy_too=*/hal::now_ns() > grace_end);
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  m.listener.join();
  m.reaper->stop();
  m.port = -1;  // httplib closed the socket: a start() after this binds again (and a new reaper)
}

int Server::port() const noexcept { return impl_->port; }
bool Server::running() const noexcept { return impl_->listener.joinable() && impl_->svr.is_running(); }

Server::Counts Server::counts() const noexcept {
  const Impl& m = *impl_;
  return Counts{.rate_limited = m.rate_limited.load(std::memory_order_relaxed),
                .too_large = m.too_large.load(std::memory_order_relaxed),
                .headers_too_large = m.headers_too_large.load(std::memory_order_relaxed),
                .unauthorized = m.unauthorized.load(std::memory_order_relaxed),
                .overloaded = m.overloaded.load(std::memory_order_relaxed),
                .reaped = m.reaper ? m.reaper->reaped() : 0};  // set before serving, never reset
}

}  // namespace rt::http
