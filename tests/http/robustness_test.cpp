// R8: bad input never stops the engine and never loses an accepted task. A periodic
// loop runs while one client fires malformed, oversize, unauthorized and half-sent
// requests and another submits good tasks; afterwards the loop has kept releasing, every
// 202's task has completed, and the drain accounts for every task.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <functional>
#include <string>
#include <thread>
#include <vector>

#include "http_test_support.hpp"

namespace {

using http_test::Client;
using http_test::Harness;
using http_test::HarnessOptions;
using http_test::Reply;
using testing_support::eventually;

constexpr const char* kToken = "robust-token";

// Writes `bytes` on a fresh connection and closes it, reading nothing (a client that
// gives up half way through its request).
void send_and_hang_up(int port, const std::string& bytes) {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return;
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<std::uint16_t>(port));
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (connect(fd, reinterpret_cast<const sockaddr*>(&a), sizeof a) == 0) (void)!write(fd, bytes.data(), bytes.size());
  close(fd);
}

// Each bad request once; returns how many got a 4xx or 5xx answer with a JSON body.
int fire_bad_requests(int port) {
  Client anon(port), wrong(port, "not-the-token"), right(port, kToken);
  const std::string deep = std::string(200, '[') + std::string(200, ']');
  std::vector<std::function<Reply()>> bad = {
      [&] { return right.post("/tasks", "{"); },
      [&] { return right.post("/tasks", R"({"type": "work", "priority": []})"); },
      [&] { return right.post("/tasks", R"({"type": "work", "priority": 99})"); },
      [&] { return right.post("/tasks", R"({"type": "work", "deadline": "-5ms"})"); },
      [&] { return right.post("/tasks", R"({"type": "work", "context": {"params": "zz"}})"); },
      [&] { return right.post("/tasks", R"({"type": "nope"})"); },
      [&] { return right.post("/tasks", deep); },
      [&] { return right.post("/tasks", "{\"type\": \"\xff\xfe\"}"); },
      [&] { return right.post("/tasks", std::string(8192, 'x')); },  // over max_body_bytes
      [&] {
        return right.get("/health", {{"X-Big", std::string(3000, 'h')}});
      },
      [&] { return right.get("/tasks?limit=-1&state=%zz"); },
      [&] { return right.get("/tasks/18446744073709551616"); },
      [&] { return right.del("/stats"); },
      [&] { return right.put("/gates/door", "[]"); },
      [&] { return right.post("/periodic/tick/explode"); },
      [&] { return right.post("/deadletter/0/redrive"); },
      [&] { return anon.post("/tasks", R"({"type": "work"})"); },
      [&] { return wrong.post("/periodic/tick/stop"); },
      [&] { return anon.get("/../../etc/passwd"); },
  };
  int refused = 0;
  for (const auto& req : bad) {
    const Reply r = req();
    const bool json_error = r.status >= 400 && r.doc.is_object() && r.doc.contains("error");
    EXPECT_TRUE(json_error) << r.str();
    refused += json_error ? 1 : 0;
  }
  send_and_hang_up(port, "POST /tasks HTTP/1.1\r\nContent-Length: 100\r\n\r\n{\"type\"");
  send_and_hang_up(port, "GET /health HTTP/1.1\r\nHost: x\r\n");           // headers never end
  send_and_hang_up(port, "\x16\x03\x01\x02\x01\x01\x01\x01\xfc\x03\x03");  // a TLS record header
  return refused;
}

TEST(HttpRobustness, BadInputNeverStopsTheEngineNorLosesAnAcceptedTask) {
  HarnessOptions o;
  o.token = kToken;
  o.server.max_body_bytes = 4096;
  o.server.max_header_bytes = 2048;
  Harness h(o);
  Client c = h.client(kToken);
  ASSERT_TRUE(eventually([&] { return h.engine().periodic_stats(h.tick()).releases > 0; }));
  const std::uint64_t releases_before = h.engine().periodic_stats(h.tick()).releases;

  constexpr int kRounds = 5;
  std::vector<std::string> accepted;
  int bad_answered = 0;
  std::thread bad([&] {
    for (int i = 0; i < kRounds; ++i)
      bad_answered += fire_bad_requests(h.port());
  });
  Client good(h.port(), kToken);
  for (int i = 0; i < kRounds * 10; ++i) {
    const Reply r = good.post("/tasks", R"({"type": "work", "context": {"user_id": ")" + std::to_string(i) + "\"}}");
    // A full queue (503) would be a fair refusal; nothing else is.
    ASSERT_TRUE(r.status == 202 || r.status == 503) << r.str();
    if (r.status == 202) accepted.push_back(r.doc.value("id", ""));
  }
  bad.join();
  EXPECT_EQ(bad_answered, kRounds * 19);
  ASSERT_FALSE(accepted.empty());

  // The loop kept its grid: still running, still releasing.
  const Reply loops = c.get("/periodic");
  ASSERT_EQ(loops.status, 200) << loops.str();
  EXPECT_EQ(loops.doc["periodic"][0].value("state", ""), "running");
  EXPECT_TRUE(eventually([&] { return h.engine().periodic_stats(h.tick()).releases > releases_before + 10; }));
  EXPECT_EQ(h.engine().periodic_stats(h.tick()).exceptions, 0U);

  // Every 202 reached its outcome.
  for (const std::string& id : accepted)
    EXPECT_TRUE(http_test::reaches(c, id, "completed")) << id;
  EXPECT_EQ(h.counters().work.load(), accepted.size());
  EXPECT_EQ(h.api().counts().submitted, accepted.size());

  const rt::StopReport stop = h.stop();
  EXPECT_TRUE(stop.balanced);
  EXPECT_EQ(stop.stats.submitted, accepted.size());
  EXPECT_EQ(stop.stats.completed, accepted.size());
}

}  // namespace
