// R8, the connections themselves: chunked bodies, a port already taken, clients that hold
// connections (slow or many), and a stop with such clients still connected.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <string>
#include <vector>

#include "http_test_support.hpp"

namespace {

using http_test::Client;
using http_test::Harness;
using http_test::HarnessOptions;
using http_test::is_error;

// A raw TCP connection to the server, for what an HTTP client library will not send.
class Raw {
 public:
  // `from`: the source address (127.0.0.0/8 is all loopback on Linux), so a test can be
  // another client than its own httplib::Client at 127.0.0.1.
  explicit Raw(int port, const char* from = nullptr) : fd_(socket(AF_INET, SOCK_STREAM, 0)) {
    if (from != nullptr) {
      sockaddr_in src{};
      src.sin_family = AF_INET;
      (void)inet_pton(AF_INET, from, &src.sin_addr);
      (void)::bind(fd_, reinterpret_cast<const sockaddr*>(&src), sizeof src);
    }
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(static_cast<std::uint16_t>(port));
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    connected_ = connect(fd_, reinterpret_cast<const sockaddr*>(&a), sizeof a) == 0;
  }
  ~Raw() { close(fd_); }
  Raw(const Raw&) = delete;
  Raw& operator=(const Raw&) = delete;

  [[nodiscard]] bool connected() const { return connected_; }
  bool send(const std::string& s) {
    return ::send(fd_, s.data(), s.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(s.size());
  }
  // Everything until the server closes (or `timeout_ms` of silence): "" when it closed
  // without a word.
  std::string read_all(int timeout_ms = 20'000) {
    std::string got;
    char buf[4096];
    for (;;) {
      pollfd p{fd_, POLLIN, 0};
      if (poll(&p, 1, timeout_ms) <= 0) break;
      const ssize_t n = recv(fd_, buf, sizeof buf, 0);
      if (n <= 0) {
        closed_ = true;
        break;
      }
      got.append(buf, static_cast<std::size_t>(n));
    }
    return got;
  }
  [[nodiscard]] bool closed() const { return closed_; }

 private:
  int fd_;
  bool connected_ = false, closed_ = false;
};

TEST(HttpConnections, AChunkedBodyIsRefusedBeforeItIsRead) {
  Harness h;
  Raw r(h.port());
  ASSERT_TRUE(r.connected());
  // The body never ends: were it read, this test would wait for it.
  ASSERT_TRUE(r.send("POST /tasks HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n400\r\n" +
                     std::string(1024, 'x') + "\r\n"));
  const std::string got = r.read_all();
  EXPECT_EQ(got.rfind("HTTP/1.1 411", 0), 0U) << got;
  EXPECT_NE(got.find("\"error\":\"length_required\""), std::string::npos) << got;
  // One answer, then the connection is shut: the unread chunks were not taken for a request.
  EXPECT_EQ(got.find("HTTP/1.1", 1), std::string::npos) << got;
  EXPECT_TRUE(r.closed());
  EXPECT_EQ(h.client().get("/health").status, 200);
}

TEST(HttpConnections, APortInUseIsAnErrorNamingIt) {
  Harness h;
  HarnessOptions o;
  o.server.port = h.port();
  rt::EngineConfig ec;
  ec.lock_memory = false;
  rt::Engine e(ec);
  rt::http::Api api(e, {}, {});
  rt::http::Server second(api, o.server);
  try {
    second.bind();
    FAIL() << "a second server bound port " << h.port();
  } catch (const std::runtime_error& ex) {
    EXPECT_NE(std::string(ex.what()).find(std::to_string(h.port())), std::string::npos) << ex.what();
  }
}

TEST(HttpConnections, ASlowClientIsCutWhenItsConnectionIsTooOld) {
  HarnessOptions o;
  o.server.max_connection_age = 300 * hal::kNsPerMs;
  o.server.read_timeout = 120 * hal::kNsPerSec;  // httplib's own timeout must not be what ends it
  Harness h(o);
  Raw slow(h.port());
  ASSERT_TRUE(slow.connected());
  ASSERT_TRUE(slow.send("GET /health HTTP/1.1\r\nHost: x\r\n"));  // and never the end of the headers
  const std::string got = slow.read_all(60'000);
  EXPECT_TRUE(slow.closed());
  EXPECT_TRUE(got.empty()) << got;  // cut, not answered
  // Counted after the shutdown the client has already seen.
  EXPECT_TRUE(http_test::eventually([&] { return h.server().counts().reaped >= 1; }));
  EXPECT_EQ(h.client().get("/health").status, 200);
}

TEST(HttpConnections, OneClientHoldingEveryThreadLosesItsNewestConnections) {
  HarnessOptions o;
  o.server.max_connections = 4;
  o.server.max_per_client = 2;
  o.server.max_connection_age = 0;  // only the share rule here
  o.server.read_timeout = 120 * hal::kNsPerSec;
  Harness h(o);
  std::vector<std::unique_ptr<Raw>> idle;
  for (int i = 0; i < 6; ++i) {
    idle.push_back(std::make_unique<Raw>(h.port(), "127.0.0.2"));
    ASSERT_TRUE(idle.back()->connected());
    ASSERT_TRUE(idle.back()->send("GET /health HTTP/1.1\r\n"));  // unfinished
  }
  // The four newest are cut; the two oldest hold their threads (the read timeout is theirs).
  int cut = 0;
  for (std::size_t i = 2; i < idle.size(); ++i) {
    (void)idle[i]->read_all(60'000);
    cut += idle[i]->closed() ? 1 : 0;
  }
  EXPECT_EQ(cut, 4);
  EXPECT_TRUE(http_test::eventually([&] { return h.server().counts().reaped >= 4; }));
  // Threads are left for everyone else (this client is 127.0.0.1).
  EXPECT_EQ(h.client().get("/health").status, 200);
}

TEST(HttpConnections, StopEndsConnectionsThatWouldNeverFinish) {
  HarnessOptions o;
  o.server.max_connection_age = 0;  // nothing cuts them but the stop
  o.server.read_timeout = 120 * hal::kNsPerSec;
  Harness h(o);
  std::vector<std::unique_ptr<Raw>> slow;
  for (int i = 0; i < 2; ++i) {
    slow.push_back(std::make_unique<Raw>(h.port()));
    ASSERT_TRUE(slow.back()->send("GET /health HTTP/1.1\r\n"));
  }
  ASSERT_EQ(h.client().get("/health").status, 200);  // they are being served by now
  h.server().stop();                                 // returns (with a 120 s read timeout it would not, uncut)
  for (auto& s : slow) {
    (void)s->read_all(60'000);
    EXPECT_TRUE(s->closed());
  }
}

// curl -X POST sends no Content-Length: no body, answered as such (httplib alone would
// wait for a body until the read timeout, then answer 400).
TEST(HttpConnections, AWriteWithoutContentLengthHasAnEmptyBody) {
  HarnessOptions o;
  o.server.read_timeout = 120 * hal::kNsPerSec;  // a wait for the body would outlast the test
  Harness h(o);
  Raw r(h.port());
  ASSERT_TRUE(r.send("POST /periodic/tick/pause HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"));
  const std::string got = r.read_all();
  EXPECT_EQ(got.rfind("HTTP/1.1 200", 0), 0U) << got;
  EXPECT_NE(got.find("\"state\":\"paused\""), std::string::npos) << got;
}

// A body shorter than its Content-Length: the read times out; a JSON 400 saying so.
TEST(HttpConnections, ABodyThatNeverArrivesIsA400AfterTheReadTimeout) {
  HarnessOptions o;
  o.server.read_timeout = 200 * hal::kNsPerMs;
  Harness h(o);
  Raw r(h.port());
  ASSERT_TRUE(r.send("POST /tasks HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{\"type\""));
  const std::string got = r.read_all();
  EXPECT_EQ(got.rfind("HTTP/1.1 400", 0), 0U) << got;
  EXPECT_NE(got.find("could not be read"), std::string::npos) << got;
  EXPECT_EQ(h.client().get("/health").status, 200);
}

// A refusal made before the body is read (431 here) must not leave that body to be taken
// for the next request on a kept-alive connection: the next request is answered as itself.
TEST(HttpConnections, ARefusedRequestsBodyIsNotReadAsTheNextRequest) {
  HarnessOptions o;
  o.server.max_header_bytes = 2048;
  Harness h(o);
  Raw r(h.port());
  const std::string body = "GET /nope HTTP/1.1\r\nHost: x\r\n\r\n";  // looks like a request
  ASSERT_TRUE(r.send("POST /tasks HTTP/1.1\r\nHost: x\r\nX-Big: " + std::string(3000, 'h') +
                     "\r\nContent-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body));
  const std::string first = r.read_all(1000);  // the answer, then a quiet kept-alive connection
  EXPECT_EQ(first.rfind("HTTP/1.1 431", 0), 0U) << first;
  EXPECT_EQ(first.find("HTTP/1.1", 1), std::string::npos) << first;  // the body got no answer of its own
  ASSERT_FALSE(r.closed()) << first;
  ASSERT_TRUE(r.send("GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"));
  const std::string next = r.read_all();
  EXPECT_EQ(next.rfind("HTTP/1.1 200", 0), 0U) << next;  // /health, not the body's /nope
}

}  // namespace
