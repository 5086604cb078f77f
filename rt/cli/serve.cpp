// `rtengine run`'s HTTP front (serve.hpp).
#include "serve.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <prometheus/metric_family.h>

#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <stdexcept>

#include "hal/cpu.hpp"

namespace rt::cli {

std::string resolve_token(const config::HttpSettings& h) {
  // The environment first: a token kept out of every file is the safest one.
  if (const char* env = std::getenv("RTENGINE_HTTP_TOKEN"); env != nullptr && *env != '\0') return env;
  if (!h.token.empty()) return h.token;
  if (h.token_file.empty()) return "";
  std::ifstream in(h.token_file);
  std::string line;
  if (!in || !std::getline(in, line))
    throw std::runtime_error("http.token_file: cannot read a token from " + h.token_file);
  while (!line.empty() && (line.back() == '\r' || line.back() == ' ' || line.back() == '\t'))
    line.pop_back();
  if (line.empty()) throw std::runtime_error("http.token_file: the first line of " + h.token_file + " is empty");
  return line;
}

namespace {

using http::add_counter;
using http::make_family;

// PeriodicSpec::worker = -1: the first worker serving the loop's priority.
int first_serving(const EngineConfig& e, Priority p) {
  for (std::size_t i = 0; i < e.workers.size(); ++i)
    if ((e.workers[i].classes & class_bit(p)) != 0) return static_cast<int>(i);
  return -1;
}

}  // namespace

bool is_loopback(const std::string& address) {
  if (address == "localhost") return true;
  in_addr v4{};
  if (inet_pton(AF_INET, address.c_str(), &v4) == 1) return (ntohl(v4.s_addr) >> 24) == 127;  // 127.0.0.0/8
  in6_addr v6{};
  if (inet_pton(AF_INET6, address.c_str(), &v6) != 1) return false;  // a host name: assume it is reachable
  if (IN6_IS_ADDR_LOOPBACK(&v6)) return true;
  return IN6_IS_ADDR_V4MAPPED(&v6) && v6.s6_addr[12] == 127;  // ::ffff:127.x.y.z
}

std::vector<int> housekeeping_cpus(const config::AppConfig& c) {
  const EngineConfig& e = c.engine;
  const auto cpu_of = [&e](int worker) {
    return worker >= 0 && static_cast<std::size_t>(worker) < e.workers.size() ? e.workers[worker].cpu : hal::kNoCpu;
  };
  std::vector<int> engine_cpus, loop_cpus;
  for (const WorkerConfig& w : e.workers)
    if (w.cpu != hal::kNoCpu) engine_cpus.push_back(w.cpu);
  if (e.monitor.cpu != hal::kNoCpu) engine_cpus.push_back(e.monitor.cpu);
  for (const config::PeriodicDecl& p : c.periodic)
    if (const int cpu = cpu_of(p.spec.worker >= 0 ? p.spec.worker : first_serving(e, p.spec.priority));
        cpu != hal::kNoCpu)
      loop_cpus.push_back(cpu);
  for (const config::GraphDecl& g : c.graphs)
    if (const int cpu = cpu_of(g.worker); g.period > 0 && cpu != hal::kNoCpu) loop_cpus.push_back(cpu);
  const std::vector<int> online = hal::read_cpu_info().online;
  const auto all_but = [&online](const std::vector<int>& taken) {
    std::vector<int> out;
    for (const int cpu : online)
      if (std::find(taken.begin(), taken.end(), cpu) == taken.end()) out.push_back(cpu);
    return out;
  };
  if (engine_cpus.empty()) return {};  // nothing pinned: nothing to keep off
  if (std::vector<int> free = all_but(engine_cpus); !free.empty()) return free;
  // Every CPU has an engine thread: keep at least off the loops' CPUs, the ones a
  // periodic release's latency is measured on.
  if (loop_cpus.empty()) return {};
  return all_but(loop_cpus);
}

struct HttpFront::Impl final : http::MetricsSource {
  Impl(const config::AppConfig& c, Engine& e, const Assembly& a, const EventBus& b, Logger& l,
       const std::vector<std::unique_ptr<Histogram>>& f)
      : cfg(c),
        as(a),
        log(l),
        frames(f),
        api(e, a.catalog(e),
            http::ApiConfig{
                .token = resolve_token(c.http), .metrics_enabled = c.metrics.enabled, .metrics_path = c.metrics.path},
            &b, this),
        server(api, server_config(c, l)) {}

  static http::ServerConfig server_config(const config::AppConfig& c, Logger& l) {
    http::ServerConfig s;
    s.bind = c.http.bind;
    s.port = c.http.port;
    s.max_body_bytes = c.http.max_body_bytes;
    s.max_header_bytes = c.http.max_header_bytes;
    s.read_timeout = c.http.read_timeout;
    s.write_timeout = c.http.write_timeout;
    s.rate = c.http.rate;
    s.burst = c.http.burst;
    s.max_connections = c.http.max_connections;
    s.cpus = housekeeping_cpus(c);  // the same list as `cpus` (logged)
    // An access line at debug level: method, path, status, client. Never a header value,
    // so a token cannot reach the log.
    s.access_log = [&l](const http::Request& r, int status) {
      // Checked before any string is built: below the level, log() would still format
      // nothing but take the logger's mutex, the one the event bus's dispatcher writes
      // under, once per request.
      if (status < 500 && l.level() > LogLevel::Debug) return;
      const std::string st = std::to_string(status);
      l.log(status >= 500 ? LogLevel::Warn : LogLevel::Debug, "http_request", r.method + " " + r.path,
            {{"status", st}, {"remote", r.remote}});
    };
    return s;
  }

  // The run's own series, beside the engine's (rthttp/metrics.hpp).
  void collect(std::vector<prometheus::MetricFamily>& out) const override {
    using prometheus::MetricType;
    auto frame = make_family("rtengine_graph_frame_latency_seconds",
                             "Time from a graph run's start to its last node's end, per run (the run command's view).",
                             MetricType::Histogram);
    for (std::size_t i = 0; i < frames.size() && i < cfg.graphs.size(); ++i)
      http::add_histogram(frame, frames[i]->snapshot(), {{"graph", cfg.graphs[i].spec.name}});
    if (!frame.metric.empty()) out.push_back(std::move(frame));

    const Assembly::Refusals r = as.refusals();
    auto gen = make_family("rtengine_load_generator_submissions_total",
                           "Tasks the run command's load generator submitted at the configured rates, by result.",
                           MetricType::Counter);
    add_counter(gen, static_cast<double>(r.submitted - r.refused), {{"result", "accepted"}});
    add_counter(gen, static_cast<double>(r.refused), {{"result", "refused"}});
    out.push_back(std::move(gen));

    const http::Api::Counts a = api.counts();
    const http::Server::Counts s = server.counts();
    auto req = make_family("rtengine_http_requests_total", "Requests the HTTP API routed.", MetricType::Counter);
    add_counter(req, static_cast<double>(a.requests));
    out.push_back(std::move(req));
    auto rej = make_family(
        "rtengine_http_rejected_total",
        "Requests the HTTP server refused before routing, and connections it cut (connection_cut), by reason.",
        MetricType::Counter);
    add_counter(rej, static_cast<double>(s.rate_limited), {{"reason", "rate_limited"}});
    add_counter(rej, static_cast<double>(s.too_large), {{"reason", "payload_too_large"}});
    add_counter(rej, static_cast<double>(s.headers_too_large), {{"reason", "headers_too_large"}});
    add_counter(rej, static_cast<double>(s.overloaded), {{"reason", "overloaded"}});
    add_counter(rej, static_cast<double>(s.reaped), {{"reason", "connection_cut"}});
    add_counter(rej, static_cast<double>(s.unauthorized), {{"reason", "unauthorized"}});
    out.push_back(std::move(rej));
    auto sub = make_family("rtengine_http_submissions_total",
                           "Tasks submitted through POST /tasks and redrives, by result.", MetricType::Counter);
    add_counter(sub, static_cast<double>(a.submitted), {{"result", "accepted"}});
    add_counter(sub, static_cast<double>(a.refused), {{"result", "refused"}});
    out.push_back(std::move(sub));
  }

  const config::AppConfig& cfg;
  const std::vector<int> cpus = housekeeping_cpus(cfg);
  const Assembly& as;
  Logger& log;
  const std::vector<std::unique_ptr<Histogram>>& frames;
  http::Api api;
  http::Server server;
};

HttpFront::HttpFront(const config::AppConfig& c, Engine& e, const Assembly& as, const EventBus& bus, Logger& log,
                     const std::vector<std::unique_ptr<Histogram>>& frames)
    : impl_(std::make_unique<Impl>(c, e, as, bus, log, frames)) {}

HttpFront::~HttpFront() = default;

void HttpFront::bind() { impl_->server.bind(); }

void HttpFront::start() {
  impl_->server.start();
  const config::HttpSettings& h = impl_->cfg.http;
  impl_->log.log(LogLevel::Info, "http_listening", "the HTTP API is up",
                 {{"address", h.bind + ":" + std::to_string(impl_->server.port())},
                  {"token", impl_->api.authorized("") ? "none" : "required"},
                  {"cpus", impl_->cpus.empty() ? std::string("inherited") : hal::format_cpu_list(impl_->cpus)}});
  // GETs never need the token, but without one every POST, PUT and DELETE (submit, cancel,
  // gates, redrive, clear) is open to whoever can reach a non-loopback address: said
  // loudly, once per start, since a fleet config (README) binds to the network.
  if (impl_->api.authorized("") && !is_loopback(h.bind))
    impl_->log.log(LogLevel::Warn, "http_open",
                   "the HTTP API listens beyond loopback without a token: every state-changing endpoint (POST, PUT, "
                   "DELETE) is open to the network; set RTENGINE_HTTP_TOKEN, or [http] token or token_file",
                   {{"address", h.bind}});
}

void HttpFront::stopping() noexcept { impl_->api.set_stopping(); }
void HttpFront::stop() { impl_->server.stop(); }
int HttpFront::port() const noexcept { return impl_->server.port(); }

}  // namespace rt::cli
