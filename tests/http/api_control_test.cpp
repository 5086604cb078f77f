// F24 over a real loopback socket: the controls of periodic loops, workflows (a graph and
// a saga), the dead-letter queue and the breakers' view.
#include <gtest/gtest.h>

#include <string>

#include "http_test_support.hpp"

namespace {

using http_test::Client;
using http_test::Harness;
using http_test::json;
using http_test::reaches;
using http_test::Reply;
using http_test::submit;
using testing_support::eventually;

json loop(Client& c, const std::string& name) {
  const Reply r = c.get("/periodic");
  EXPECT_EQ(r.status, 200) << r.str();
  for (const json& l : r.doc.value("periodic", json::array()))
    if (l.value("name", "") == name) return l;
  ADD_FAILURE() << "no loop " << name << " in " << r.body;
  return json::object();
}

std::uint64_t releases(Client& c) { return loop(c, "tick").value("releases", std::uint64_t{0}); }

json workflow(Client& c, const std::string& name) {
  const Reply r = c.get("/workflows");
  EXPECT_EQ(r.status, 200) << r.str();
  for (const json& w : r.doc.value("workflows", json::array()))
    if (w.value("name", "") == name) return w;
  ADD_FAILURE() << "no workflow " << name << " in " << r.body;
  return json::object();
}

TEST(HttpApi, PeriodicLoopsStopStartPauseAndResume) {
  Harness h;
  Client c = h.client();
  const json l = loop(c, "tick");
  EXPECT_EQ(l.value("state", ""), "running");
  EXPECT_EQ(l.value("period_ns", std::int64_t{0}), 5 * hal::kNsPerMs);
  ASSERT_TRUE(eventually([&] { return releases(c) > 0; }));

  Reply r = c.post("/periodic/tick/pause");
  ASSERT_EQ(r.status, 200) << r.str();
  EXPECT_EQ(r.doc.value("was", ""), "running");
  EXPECT_EQ(r.doc.value("state", ""), "paused");
  EXPECT_EQ(loop(c, "tick").value("state", ""), "paused");
  EXPECT_TRUE(http_test::is_error(c.post("/periodic/tick/pause"), 409));  // paused already

  ASSERT_EQ(c.post("/periodic/tick/resume").status, 200);
  EXPECT_EQ(loop(c, "tick").value("state", ""), "running");

  r = c.post("/periodic/tick/stop");
  ASSERT_EQ(r.status, 200) << r.str();
  EXPECT_EQ(loop(c, "tick").value("state", ""), "stopped");
  // Stopped: pause and stop make no sense, and the answer says what it is.
  r = c.post("/periodic/tick/pause");
  ASSERT_TRUE(http_test::is_error(r, 409));
  EXPECT_NE(http_test::detail(r).find("tick"), std::string::npos) << r.body;
  EXPECT_NE(http_test::detail(r).find("stopped"), std::string::npos) << r.body;
  EXPECT_TRUE(http_test::is_error(c.post("/periodic/tick/stop"), 409));
  EXPECT_TRUE(http_test::is_error(c.post("/periodic/tick/resume"), 409));

  ASSERT_EQ(c.post("/periodic/tick/start").status, 200);
  EXPECT_EQ(loop(c, "tick").value("state", ""), "running");
  const std::uint64_t before = releases(c);
  EXPECT_TRUE(eventually([&] { return releases(c) > before; }));
  EXPECT_TRUE(http_test::is_error(c.post("/periodic/tick/start"), 409));  // running already
  EXPECT_TRUE(http_test::is_error(c.post("/periodic/nope/start"), 404));
  EXPECT_TRUE(http_test::is_error(c.post("/periodic/tick/explode"), 404));
}

// Each answer waits for the loop's worker to apply its command, so a client's next call
// is judged against the state it asked for (before: a start then a pause at once was a
// 409 "is stopped", the worker not having applied the start yet).
TEST(HttpApi, PeriodicCommandsInQuickSuccessionAreEachApplied) {
  Harness h;
  Client c = h.client();
  for (int i = 0; i < 20; ++i) {
    for (const char* action : {"stop", "start", "pause", "resume"}) {
      const Reply r = c.post(std::string("/periodic/tick/") + action);
      ASSERT_EQ(r.status, 200) << action << " #" << i << ": " << r.str();
    }
  }
  const Reply r = c.post("/periodic/tick/pause");
  ASSERT_EQ(r.status, 200) << r.str();
  EXPECT_EQ(r.doc.value("state", ""), "paused");
  EXPECT_EQ(loop(c, "tick").value("state", ""), "paused");
}

TEST(HttpApi, WorkflowsListAndRunAGraphAndASaga) {
  Harness h;
  Client c = h.client();
  const json pipe = workflow(c, "pipe");
  EXPECT_EQ(pipe.value("kind", ""), "graph");
  EXPECT_EQ(pipe.value("runs", 1), 0);
  EXPECT_EQ(workflow(c, "order").value("kind", ""), "saga");

  Reply r = c.post("/workflows/pipe/run");
  ASSERT_EQ(r.status, 202) << r.str();
  EXPECT_EQ(r.doc.value("kind", ""), "graph");
  EXPECT_EQ(r.doc.value("status", ""), "started");
  ASSERT_TRUE(eventually([&] { return workflow(c, "pipe").value("completed", 0) == 1; }));
  EXPECT_EQ(workflow(c, "pipe").value("runs", 0), 1);

  r = c.post("/workflows/order/run", R"({"context": {"user_id": "42"}})");
  ASSERT_EQ(r.status, 202) << r.str();
  EXPECT_EQ(r.doc.value("kind", ""), "saga");
  ASSERT_TRUE(r.doc["task"].is_string()) << r.body;
  ASSERT_TRUE(reaches(c, r.doc["task"].get<std::string>(), "completed"));
  ASSERT_TRUE(eventually([&] { return workflow(c, "order").value("completed", 0) == 1; }));
  EXPECT_EQ(workflow(c, "order").value("compensated", 1), 0);
  // Two nodes and two saga steps ran; no compensation did.
  EXPECT_EQ(h.counters().steps.load(), 4U);
  EXPECT_EQ(h.counters().undos.load(), 0U);

  r = c.post("/workflows/nope/run");
  ASSERT_TRUE(http_test::is_error(r, 404));
  EXPECT_NE(http_test::detail(r).find("nope"), std::string::npos) << r.body;
}

TEST(HttpApi, DeadLettersAreListedRedrivenAndPurged) {
  Harness h;
  Client c = h.client();
  Reply dl = c.get("/deadletter");
  ASSERT_EQ(dl.status, 200) << dl.str();
  EXPECT_TRUE(dl.doc["entries"].empty());
  EXPECT_EQ(dl.doc.value("size", 1), 0);

  // "fail" always throws; with its one retry used, it is dead-lettered.
  const std::string id = submit(c, "fail");
  ASSERT_TRUE(eventually([&] { return c.get("/deadletter").doc.value("size", 0) == 1; }));
  dl = c.get("/deadletter");
  ASSERT_EQ(dl.doc["entries"].size(), 1U) << dl.body;
  const json e = dl.doc["entries"][0];
  EXPECT_EQ(e.value("id", ""), id);
  EXPECT_EQ(e.value("type", ""), "fail");
  EXPECT_EQ(e.value("attempts", 0), 2);
  EXPECT_EQ(e.value("last_reason", ""), "exception");
  EXPECT_NE(e.value("error", "").find("boom"), std::string::npos) << e;
  ASSERT_TRUE(e["seq"].is_string()) << e;
  const std::string seq = e["seq"].get<std::string>();

  const Reply rd = c.post("/deadletter/" + seq + "/redrive");
  ASSERT_EQ(rd.status, 202) << rd.str();
  const std::string again = rd.doc.value("id", "");
  EXPECT_FALSE(again.empty());
  EXPECT_NE(again, id);  // a new task, with fresh attempts
  // It fails the same way and comes back, under a new seq.
  ASSERT_TRUE(eventually([&] {
    const Reply r = c.get("/deadletter");
    return r.doc.value("size", 0) == 1 && r.doc["entries"][0].value("id", "") == again;
  }));
  EXPECT_EQ(h.counters().fails.load(), 4U);
  EXPECT_TRUE(http_test::is_error(c.post("/deadletter/" + seq + "/redrive"), 404));  // taken already
  EXPECT_TRUE(http_test::is_error(c.post("/deadletter/nope/redrive"), 404));

  const Reply purge = c.del("/deadletter");
  ASSERT_EQ(purge.status, 200) << purge.str();
  EXPECT_EQ(purge.doc.value("purged", 0), 1);
  EXPECT_EQ(c.get("/deadletter").doc.value("size", 1), 0);
}

TEST(HttpApi, BreakersShowTheGuardedTypesCounts) {
  Harness h;
  Client c = h.client();
  Reply b = c.get("/breakers");
  ASSERT_EQ(b.status, 200) << b.str();
  ASSERT_EQ(b.doc["breakers"].size(), 1U) << b.body;  // only "fail" has one
  EXPECT_EQ(b.doc["breakers"][0].value("type", ""), "fail");
  EXPECT_EQ(b.doc["breakers"][0].value("state", ""), "closed");
  EXPECT_EQ(b.doc["breakers"][0].value("failures", 1), 0);

  const std::string id = submit(c, "fail", {{"retry", "none"}});
  ASSERT_TRUE(reaches(c, id, "failed"));
  ASSERT_TRUE(eventually([&] { return c.get("/breakers").doc["breakers"][0].value("failures", 0) == 1; }));
  EXPECT_EQ(c.get("/breakers").doc["breakers"][0].value("state", ""), "closed");
}

}  // namespace
