// The HTTP server's connection pool and reaper (connections.hpp).
#include "connections.hpp"

#include <arpa/inet.h>
#include <dirent.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <cstdlib>

#include "hal/clock.hpp"
#include "hal/thread.hpp"

namespace rt::http::detail {

namespace {
thread_local bool t_overflow = false;
}  // namespace

bool on_overflow_thread() noexcept { return t_overflow; }

BoundedPool::BoundedPool(std::size_t threads, std::size_t max_pending, std::size_t max_overflow,
                         std::atomic<std::uint64_t>& overflowed, std::vector<int> cpus,
                         std::function<void()> on_destroy, std::function<void()> on_accept)
    : max_pending_(max_pending),
      max_overflow_(max_overflow),
      overflowed_(overflowed),
      cpus_(std::move(cpus)),
      on_destroy_(std::move(on_destroy)),
      on_accept_(std::move(on_accept)) {
  for (std::size_t i = 0; i < threads; ++i)
    workers_.emplace_back([this] { serve(jobs_, false); });
  workers_.emplace_back([this] { serve(overflow_, true); });
}

BoundedPool::~BoundedPool() {
  if (on_destroy_) on_destroy_();
  shutdown();
}

void BoundedPool::enqueue(std::function<void()> fn) {
  if (on_accept_) on_accept_();
  {
    std::unique_lock lk(mu_);
    // Both queues full: the accept loop waits here, and what comes next waits in the
    // kernel's backlog without a descriptor of ours.
    space_.wait(lk, [&] { return released_ || jobs_.size() < max_pending_ || overflow_.size() < max_overflow_; });
    if (jobs_.size() < max_pending_) {
      jobs_.push_back(std::move(fn));
    } else {
      // Over both limits only once released (stopping): the overflow thread answers it.
      overflowed_.fetch_add(1, std::memory_order_relaxed);
      overflow_.push_back(std::move(fn));
    }
  }
  cv_.notify_all();
}

void BoundedPool::release() {
  {
    const std::lock_guard lk(mu_);
    released_ = true;
  }
  space_.notify_all();
}

void BoundedPool::shutdown() {
  {
    const std::lock_guard lk(mu_);
    if (stop_) return;
    stop_ = true;
    released_ = true;
  }
  cv_.notify_all();
  space_.notify_all();
  for (std::thread& t : workers_)
    t.join();
}

void BoundedPool::serve(std::deque<std::function<void()>>& q, bool overflow) {
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
    space_.notify_one();
    fn();
  }
}

ConnectionReaper::ConnectionReaper(ReaperConfig cfg) : cfg_(std::move(cfg)) {}

ConnectionReaper::~ConnectionReaper() { stop(); }

void ConnectionReaper::start() {
  if (DIR* d = opendir("/proc/self/fd")) {
    available_ = true;
    closedir(d);
  }
  thread_ = std::thread([this] {
    (void)hal::set_current_affinity(cfg_.cpus);
    std::unique_lock lk(mu_);
    while (!stop_) {
      lk.unlock();
      scan_once(hal::now_ns());
      lk.lock();
      cv_.wait_for(lk, std::chrono::nanoseconds(cfg_.interval), [this] { return stop_; });
    }
  });
}

void ConnectionReaper::stop() {
  {
    const std::lock_guard lk(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

namespace {

// Whether `fd` is still the connection `peer` named when it was scanned: it may have been
// closed and its number reused since, and an unrelated socket must never be cut.
bool still(int fd, const std::string& peer) {
  sockaddr_storage now{};
  socklen_t len = sizeof now;
  return getpeername(fd, reinterpret_cast<sockaddr*>(&now), &len) == 0 && len == peer.size() &&
         peer.compare(0, len, reinterpret_cast<const char*>(&now), len) == 0;
}

// On a duplicate of the descriptor: if the number is closed and reused between the scan and
// here, the duplicate is of whatever it is now, and `still` then refuses it.
bool cut(int fd, const std::string& peer) {
  const int d = fcntl(fd, F_DUPFD_CLOEXEC, 0);
  if (d < 0) return false;
  const bool ok = still(d, peer) && shutdown(d, SHUT_RDWR) == 0;
  close(d);
  return ok;
}

// A connected stream socket (not a listener, not UDP).
bool accepted_stream(int fd) {
  int type = 0, listening = 0;
  socklen_t tl = sizeof type, ll = sizeof listening;
  return getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &tl) == 0 && type == SOCK_STREAM &&
         getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &listening, &ll) == 0 && listening == 0;
}

std::string text_of(const sockaddr_storage& a) {
  std::array<char, INET6_ADDRSTRLEN> buf{};
  int port = 0;
  if (a.ss_family == AF_INET) {
    const auto* p = reinterpret_cast<const sockaddr_in*>(&a);
    (void)inet_ntop(AF_INET, &p->sin_addr, buf.data(), buf.size());
    port = ntohs(p->sin_port);
  } else if (a.ss_family == AF_INET6) {
    const auto* p = reinterpret_cast<const sockaddr_in6*>(&a);
    (void)inet_ntop(AF_INET6, &p->sin6_addr, buf.data(), buf.size());
    port = ntohs(p->sin6_port);
  }
  return std::string(buf.data()) + ":" + std::to_string(port);
}

}  // namespace

std::vector<ConnectionReaper::Conn> ConnectionReaper::scan() const {
  std::vector<Conn> out;
  DIR* d = opendir("/proc/self/fd");
  if (d == nullptr) return out;
  while (const dirent* e = readdir(d)) {
    char* end = nullptr;
    const long fd = std::strtol(e->d_name, &end, 10);
    if (end == e->d_name || *end != '\0' || fd == dirfd(d)) continue;
    sockaddr_storage local{}, peer{};
    socklen_t ll = sizeof local, pl = sizeof peer;
    // Not a socket (ENOTSOCK), or not one of ours: skipped.
    if (getsockname(static_cast<int>(fd), reinterpret_cast<sockaddr*>(&local), &ll) != 0) continue;
    int lport = -1;
    std::string addr;
    if (local.ss_family == AF_INET) {
      lport = ntohs(reinterpret_cast<const sockaddr_in*>(&local)->sin_port);
    } else if (local.ss_family == AF_INET6) {
      lport = ntohs(reinterpret_cast<const sockaddr_in6*>(&local)->sin6_port);
    }
    if (lport != cfg_.port || !accepted_stream(static_cast<int>(fd))) continue;
    // The listening socket has no peer; an accepted one does.
    if (getpeername(static_cast<int>(fd), reinterpret_cast<sockaddr*>(&peer), &pl) != 0) continue;
    std::string key(reinterpret_cast<const char*>(&peer), pl);
    if (peer.ss_family == AF_INET) {
      const auto* p = reinterpret_cast<const sockaddr_in*>(&peer);
      addr.assign(reinterpret_cast<const char*>(&p->sin_addr), sizeof p->sin_addr);
    } else if (peer.ss_family == AF_INET6) {
      const auto* p = reinterpret_cast<const sockaddr_in6*>(&peer);
      addr.assign(reinterpret_cast<const char*>(&p->sin6_addr), sizeof p->sin6_addr);
    }
    out.push_back(Conn{static_cast<int>(fd), std::move(key), std::move(addr), text_of(peer)});
  }
  closedir(d);
  return out;
}

void ConnectionReaper::on_accept() {
  if (available_) scan_once(hal::now_ns());
}

void ConnectionReaper::scan_once(ns_t now) {
  const std::lock_guard lk(scan_mu_);
  const std::vector<Conn> conns = scan();
  std::map<std::pair<int, std::string>, ns_t> seen;
  std::map<std::string, std::vector<std::pair<ns_t, const Conn*>>> by_client;  // address -> (first seen, conn)
  for (const Conn& c : conns) {
    const auto key = std::pair{c.fd, c.peer};
    const auto it = first_seen_.find(key);
    const ns_t first = it != first_seen_.end() ? it->second : now;
    seen.emplace(key, first);
    if (is_busy(c.peer_text)) continue;  // its request is read and being answered: let it finish
    by_client[c.peer_address].emplace_back(first, &c);
    if (cfg_.max_age > 0 && now - first > cfg_.max_age && cut(c.fd, c.peer))
      reaped_.fetch_add(1, std::memory_order_relaxed);
  }
  // One address holding more than its share: its newest connections go (the ones it
  // opened last, most likely not yet served), so one client cannot take every thread.
  if (cfg_.max_per_client > 0) {
    for (auto& [addr, list] : by_client) {
      if (list.size() <= cfg_.max_per_client) continue;
      // Strictly ordered: on_accept scans at each accept, so each connection has its own time.
      std::sort(list.begin(), list.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
      for (std::size_t i = cfg_.max_per_client; i < list.size(); ++i)
        if (cut(list[i].second->fd, list[i].second->peer)) reaped_.fetch_add(1, std::memory_order_relaxed);
    }
  }
  first_seen_ = std::move(seen);
}

std::size_t ConnectionReaper::cut_all(bool busy_too) {
  std::size_t n = 0;
  for (const Conn& c : scan()) {
    if (!busy_too && is_busy(c.peer_text)) continue;
    n += cut(c.fd, c.peer) ? 1 : 0;
  }
  return n;
}

void ConnectionReaper::cut_peer(const std::string& peer) {
  for (const Conn& c : scan()) {
    if (c.peer_text == peer && cut(c.fd, c.peer)) reaped_.fetch_add(1, std::memory_order_relaxed);
  }
}

void ConnectionReaper::busy(const std::string& peer) {
  const std::lock_guard lk(busy_mu_);
  ++busy_[peer];
}

void ConnectionReaper::done(const std::string& peer) {
  const std::lock_guard lk(busy_mu_);
  const auto it = busy_.find(peer);
  if (it != busy_.end() && --it->second <= 0) busy_.erase(it);
}

bool ConnectionReaper::is_busy(const std::string& peer_text) {
  const std::lock_guard lk(busy_mu_);
  return busy_.count(peer_text) != 0;
}

}  // namespace rt::http::detail
