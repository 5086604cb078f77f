#pragma once
// What keeps the HTTP server's connections bounded (R8): the pool that serves them, and
// the reaper that ends those a client holds too long. Private to rt_http.
//
// cpp-httplib 0.11 serves a connection on one thread from accept to close, reads each
// request with a timeout per read (not per request), and gives its TaskQueue a closure
// that owns the socket but does not show it. So a client trickling a byte now and then
// holds a serving thread for as long as it likes, and nothing in httplib can end it. The
// reaper finds the server's sockets itself (/proc/self/fd: a socket whose local port is
// the server's and that has a peer) and shuts them down when they are too old, when one
// client address holds too many, and at stop.
#include <httplib.h>

#include <atomic>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "rt/types.hpp"

namespace rt::http::detail {

// Set on the thread that answers the connections beyond the pool's queue: each gets a
// 503 at once (the pre-routing handler reads it).
bool on_overflow_thread() noexcept;

// Serves at most `threads` connections at once and queues `max_pending` more; beyond
// that, up to `max_overflow` wait for one thread that answers 503 and closes; beyond even
// that, enqueue() waits, so the rest stay in the kernel's accept backlog rather than
// holding descriptors. release() ends that wait (at stop).
class BoundedPool final : public httplib::TaskQueue {
 public:
  // `on_destroy` runs first thing in the destructor (httplib deletes the pool when its
  // listen() returns): whoever kept a pointer to it forgets it there.
  BoundedPool(std::size_t threads, std::size_t max_pending, std::size_t max_overflow,
              std::atomic<std::uint64_t>& overflowed, std::vector<int> cpus, std::function<void()> on_destroy,
              std::function<void()> on_accept);
  ~BoundedPool() override;
  BoundedPool(const BoundedPool&) = delete;
  BoundedPool& operator=(const BoundedPool&) = delete;

  void enqueue(std::function<void()> fn) override;
  void shutdown() override;
  void release();

 private:
  void serve(std::deque<std::function<void()>>& q, bool overflow);

  const std::size_t max_pending_, max_overflow_;
  std::mutex mu_;
  std::condition_variable cv_, space_;
  std::deque<std::function<void()>> jobs_, overflow_;
  bool stop_ = false, released_ = false;
  std::atomic<std::uint64_t>& overflowed_;  // the Server's: the pool dies with each listen()
  const std::vector<int> cpus_;
  std::function<void()> on_destroy_;
  std::function<void()> on_accept_;  // each accepted connection, before it is queued
  std::vector<std::thread> workers_;
};

struct ReaperConfig {
  int port = 0;                    // the server's bound port
  ns_t max_age = 0;                // a connection older than this is shut down; 0: never
  std::size_t max_per_client = 0;  // connections one peer address may hold; 0: any number
  ns_t interval = 200'000'000;     // between scans
  std::vector<int> cpus;           // where its thread runs
};

class ConnectionReaper {
 public:
  explicit ConnectionReaper(ReaperConfig cfg);
  ~ConnectionReaper();  // stop()
  ConnectionReaper(const ConnectionReaper&) = delete;
  ConnectionReaper& operator=(const ConnectionReaper&) = delete;

  void start();
  void stop();
  // Shuts down the connections to the server now, those with a request being handled
  // too when `busy_too`; returns how many.
  std::size_t cut_all(bool busy_too);
  // Shuts down the connection from `peer` ("address:port", as httplib names it), after
  // its answer was written: the answer left a declared body unread on it.
  void cut_peer(const std::string& peer);
  // A request from `peer` is being handled (its whole request was read): the age and
  // share rules leave its connection alone until done().
  // A connection was just accepted: scan now, so it is seen (and, if its client holds
  // more than its share, cut) alone, and "newest" is exact.
  void on_accept();
  void busy(const std::string& peer);
  void done(const std::string& peer);
  // Whether /proc/self/fd could be read at start: without it nothing can be cut.
  [[nodiscard]] bool available() const noexcept { return available_; }
  [[nodiscard]] std::uint64_t reaped() const noexcept { return reaped_.load(std::memory_order_relaxed); }

 private:
  struct Conn {
    int fd;
    std::string peer;  // address bytes + port: the same fd reused by another client is another key
    std::string peer_address;
    std::string peer_text;  // "address:port", httplib's spelling
  };
  [[nodiscard]] std::vector<Conn> scan() const;
  void scan_once(ns_t now);

  [[nodiscard]] bool is_busy(const std::string& peer_text);

  const ReaperConfig cfg_;
  bool available_ = false;
  std::mutex scan_mu_;  // first_seen_: the reaper thread's scans and on_accept's
  std::mutex busy_mu_;
  std::map<std::string, int> busy_;                         // peer text -> requests being handled
  std::map<std::pair<int, std::string>, ns_t> first_seen_;  // under scan_mu_
  std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;
  std::thread thread_;
  std::atomic<std::uint64_t> reaped_{0};
};

}  // namespace rt::http::detail
