// `rtengine run --http-port 0` in-process (rt/cli/serve.cpp): a client thread started
// from on_listening talks to the run's API with the right and wrong tokens, and keeps
// talking while the run stops. The token never reaches the log, the access lines do, and
// the stop with requests in flight is clean: exit 0, every task accounted for.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "cli.hpp"
#include "http_test_support.hpp"

namespace {

using http_test::Client;
using http_test::json;
using http_test::Reply;

std::string temp_path(const std::string& name) {
  return (std::filesystem::temp_directory_path() / ("rtengine_serve_test_" + std::to_string(getpid()) + "_" + name))
      .string();
}

std::string read_all(const std::string& path) {
  std::ifstream in(path);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

// What the client thread saw.
struct Seen {
  int health = 0, no_token = 0, wrong_token = 0;
  std::vector<std::string> accepted;  // 202 ids
  int refused_stopping = 0;           // 503 while the run stopped
  int other = 0;                      // any other status in the last phase
  bool ended_by_stop = false;         // the server went away (a transport error)
};

// The client's script: one of each, then submissions until the server is gone.
void talk(int port, const std::string& token, Seen& s) {
  Client anon(port), wrong(port, token + "x"), right(port, token);
  s.health = anon.get("/health").status;
  s.no_token = anon.post("/tasks", R"({"type": "job"})").status;
  s.wrong_token = wrong.post("/tasks", R"({"type": "job"})").status;
  // The token where a careless server might echo or log it.
  (void)wrong.get("/tasks/1", {{"X-Token", token}});
  (void)anon.post("/tasks", R"({"type": ")" + token + "\"}", {{"Authorization", "Bearer " + token + "x"}});
  const hal::ns_t until = hal::now_ns() + 120 * hal::kNsPerSec;  // a bound, not a timing
  while (hal::now_ns() < until) {
    const Reply r = right.post("/tasks", R"({"type": "job"})");
    if (r.status == 0) {
      s.ended_by_stop = true;
      return;
    }
    if (r.status == 202) {
      s.accepted.push_back(r.doc.value("id", ""));
    } else if (r.status == 503) {
      ++s.refused_stopping;
    } else {
      ++s.other;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(2));  // pacing only
  }
}

TEST(HttpServe, TheTokenNeverReachesTheLogAndAStopUnderLoadIsClean) {
  ::unsetenv("RTENGINE_HTTP_TOKEN");  // the environment's token would win over the file's
  const std::string token = "Zq7-serve-test-SECRET-" + std::to_string(getpid());
  const std::string log = temp_path("log.jsonl");
  const std::string cfg = temp_path("cfg.toml");
  std::filesystem::remove(log);
  std::ofstream(cfg) << "[run]\nduration = \"2s\"\nstop = \"drain\"\n"
                     << "[engine]\nlock_memory = false\n"
                     << "[[engine.worker]]\npriority = 0\nclasses = \"all\"\n"
                     << "[[task]]\nname = \"job\"\nhandler = \"work\"\n"
                     << "[logging]\nlevel = \"debug\"\ndestination = \"" << log << "\"\n"
                     << "[http]\nenabled = true\nrate = 0\ntoken = \"" << token << "\"\n";

  Seen seen;
  std::thread client;
  int port = -1;
  rt::cli::RunOptions o;
  o.config = cfg;
  o.json = true;
  o.http_port = 0;
  o.on_listening = [&](int p) {
    port = p;
    client = std::thread([&seen, &token, p] { talk(p, token, seen); });
  };
  std::ostringstream out, err;
  const int code = rt::cli::run(o, out, err);
  if (client.joinable()) client.join();
  std::filesystem::remove(cfg);

  ASSERT_EQ(code, 0) << err.str();
  ASSERT_GT(port, 0);
  EXPECT_EQ(seen.health, 200);
  EXPECT_EQ(seen.no_token, 401);
  EXPECT_EQ(seen.wrong_token, 401);
  EXPECT_FALSE(seen.accepted.empty());
  EXPECT_EQ(seen.other, 0);
  EXPECT_TRUE(seen.ended_by_stop);

  // Balanced (exit 0 says so too), and every 202 among the completed.
  const json report = json::parse(out.str());
  const json& t = report.at("tasks");
  const auto n = [&](const char* k) { return t.at(k).get<std::uint64_t>(); };
  EXPECT_EQ(n("submitted"), n("completed") + n("failed") + n("timed_out") + n("cancelled") + n("skipped"));
  EXPECT_EQ(n("submitted"), seen.accepted.size());  // the config submits nothing itself
  EXPECT_EQ(n("completed"), seen.accepted.size());

  const std::string text = read_all(log);
  std::filesystem::remove(log);
  EXPECT_EQ(text.find(token), std::string::npos) << "the token is in the log";
  std::size_t requests = 0;
  bool listening = false, saw_401 = false, saw_202 = false;
  std::istringstream lines(text);
  for (std::string line; std::getline(lines, line);) {
    const json l = json::parse(line, nullptr, false);
    ASSERT_FALSE(l.is_discarded()) << line;
    if (l.value("event", "") == "http_listening") {
      listening = true;
      EXPECT_EQ(l.value("token", ""), "required") << line;
    }
    if (l.value("event", "") != "http_request") continue;
    ++requests;
    saw_401 = saw_401 || l.value("status", "") == "401";
    saw_202 = saw_202 || l.value("status", "") == "202";
  }
  EXPECT_TRUE(listening) << text.substr(0, 2000);
  EXPECT_GE(requests, 5U + seen.accepted.size()) << text.substr(0, 2000);
  EXPECT_TRUE(saw_401);
  EXPECT_TRUE(saw_202);
  EXPECT_EQ(text.find("http_open"), std::string::npos) << "a token is set: nothing is open";
}

// Bound beyond loopback without a token: one warning line that says what is open and
// how to close it.
TEST(HttpServe, AnOpenApiOnTheNetworkIsWarnedAboutOnce) {
  ::unsetenv("RTENGINE_HTTP_TOKEN");
  const std::string log = temp_path("open.jsonl");
  const std::string cfg = temp_path("open.toml");
  std::filesystem::remove(log);
  std::ofstream(cfg) << "[run]\nduration = \"100ms\"\n"
                     << "[engine]\nlock_memory = false\n"
                     << "[[engine.worker]]\npriority = 0\nclasses = \"all\"\n"
                     << "[[task]]\nname = \"job\"\nhandler = \"work\"\n"
                     << "[logging]\nlevel = \"info\"\ndestination = \"" << log << "\"\n"
                     << "[http]\nenabled = true\nbind = \"0.0.0.0\"\n";
  rt::cli::RunOptions o;
  o.config = cfg;
  o.http_port = 0;
  std::ostringstream out, err;
  const int code = rt::cli::run(o, out, err);
  std::filesystem::remove(cfg);
  ASSERT_EQ(code, 0) << err.str();

  const std::string text = read_all(log);
  std::filesystem::remove(log);
  int warnings = 0;
  std::istringstream lines(text);
  for (std::string line; std::getline(lines, line);) {
    const json l = json::parse(line, nullptr, false);
    ASSERT_FALSE(l.is_discarded()) << line;
    if (l.value("event", "") != "http_open") continue;
    ++warnings;
    EXPECT_EQ(l.value("level", ""), "warn") << line;
    EXPECT_EQ(l.value("address", ""), "0.0.0.0") << line;
    const std::string message = l.value("message", "");
    EXPECT_NE(message.find("state-changing"), std::string::npos) << line;
    EXPECT_NE(message.find("RTENGINE_HTTP_TOKEN"), std::string::npos) << line;
  }
  EXPECT_EQ(warnings, 1) << text.substr(0, 2000);
}

// A port another process holds ends the run before anything ran: exit 1 naming the
// address, and no loop released (the engine never started).
TEST(HttpServe, APortInUseEndsTheRunBeforeTheEngineStarts) {
  const int holder = socket(AF_INET, SOCK_STREAM, 0);
  ASSERT_GE(holder, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof a;
  ASSERT_EQ(::bind(holder, reinterpret_cast<const sockaddr*>(&a), sizeof a), 0);
  ASSERT_EQ(listen(holder, 1), 0);
  ASSERT_EQ(getsockname(holder, reinterpret_cast<sockaddr*>(&a), &len), 0);
  const int port = ntohs(a.sin_port);

  const std::string log = temp_path("inuse.jsonl");
  const std::string cfg = temp_path("inuse.toml");
  std::filesystem::remove(log);
  std::ofstream(cfg) << "[run]\nduration = \"10s\"\n"
                     << "[engine]\nlock_memory = false\n"
                     << "[[engine.worker]]\npriority = 0\nclasses = \"all\"\n"
                     << "[[periodic]]\nname = \"loop\"\nhandler = \"noop\"\nperiod = \"1ms\"\n"
                     << "[logging]\nlevel = \"info\"\ndestination = \"" << log << "\"\n";
  rt::cli::RunOptions o;
  o.config = cfg;
  o.http_port = port;
  std::ostringstream out, err;
  const int code = rt::cli::run(o, out, err);
  close(holder);
  std::filesystem::remove(cfg);
  const std::string text = read_all(log);
  std::filesystem::remove(log);
  EXPECT_EQ(code, rt::cli::kExitFailed);
  EXPECT_NE(err.str().find("127.0.0.1:" + std::to_string(port)), std::string::npos) << err.str();
  EXPECT_EQ(text.find("run_started"), std::string::npos) << text.substr(0, 2000);
  EXPECT_TRUE(out.str().empty()) << out.str();  // no report: nothing ran
}

}  // namespace
