// F24 over a real loopback socket: each endpoint's happy path (tasks, gates, events and
// the read-only views); the controls of loops, workflows, dead letters and breakers are
// in api_control_test.cpp, the errors and limits in server_test.cpp.
#include <gtest/gtest.h>

#include <atomic>
#include <set>
#include <string>
#include <vector>

#include "http_test_support.hpp"

namespace {

using http_test::Client;
using http_test::Harness;
using http_test::HarnessOptions;
using http_test::json;
using http_test::reaches;
using http_test::Reply;
using http_test::submit;
using testing_support::eventually;

TEST(HttpApi, MetricsAreThePrometheusText) {
  Harness h;
  Client c = h.client();
  const Reply r = c.get("/metrics");
  ASSERT_EQ(r.status, 200) << r.str();
  EXPECT_EQ(r.content_type.rfind("text/plain", 0), 0U) << r.content_type;
  EXPECT_NE(r.body.find("rtengine_"), std::string::npos) << r.body.substr(0, 400);
}

TEST(HttpApi, HealthAndStatsDescribeTheRunningEngine) {
  Harness h;
  Client c = h.client();
  const Reply health = c.get("/health");
  ASSERT_EQ(health.status, 200) << health.str();
  EXPECT_EQ(health.content_type.rfind("application/json", 0), 0U) << health.content_type;
  EXPECT_EQ(health.doc.value("status", ""), "ok");
  EXPECT_EQ(health.doc.value("running", false), true);
  EXPECT_GE(health.doc.value("active_workers", 0), 1);

  ASSERT_FALSE(submit(c, "work").empty());
  ASSERT_TRUE(eventually([&] { return h.counters().work.load() == 1; }));
  const Reply stats = c.get("/stats");
  ASSERT_EQ(stats.status, 200) << stats.str();
  EXPECT_GE(stats.doc.value("submitted", 0), 1);
  ASSERT_TRUE(stats.doc["workers"].is_array());
  EXPECT_EQ(stats.doc["workers"].size(), 2U);
  EXPECT_TRUE(stats.doc["queue_depth"].contains("normal")) << stats.body;
  EXPECT_TRUE(stats.doc["dispatch_latency"].contains("p99_ns")) << stats.body;
}

// /health answers by the rule `rtengine run` pets its watchdogs by (rt/health.hpp): a
// worker STALLED for real (a task hung past its deadline + monitor.stall_after) makes it
// 503 "stalled", naming the worker; once the task returns, 200 "ok" again.
TEST(HttpApi, HealthIs503StalledWhileAWorkerIsStalledAndOkOnceItRecovers) {
  HarnessOptions o;
  o.periodic = false;
  Harness h(o);
  std::atomic<bool> hang{true};
  const testing_support::SetOnExit unhang{hang, false};
  Client c = h.client();
  rt::Producer p = h.engine().make_producer();
  ASSERT_TRUE(testing_support::stall_a_worker(h.engine(), p, hang))
      << "the hung task never started before its deadline";
  const int worker = h.engine().health().first_stalled;
  Reply r = c.get("/health");
  EXPECT_EQ(r.status, 503) << r.str();
  EXPECT_EQ(r.doc.value("status", ""), "stalled") << r.body;
  EXPECT_NE(r.doc.value("why", "").find("worker " + std::to_string(worker) + " stalled"), std::string::npos) << r.body;
  EXPECT_EQ(r.doc.value("running", false), true) << r.body;  // the other fields stay
  EXPECT_TRUE(r.doc.contains("queue_depth")) << r.body;
  hang.store(false);
  EXPECT_TRUE(eventually([&] { return c.get("/health").status == 200; }));
  r = c.get("/health");
  EXPECT_EQ(r.status, 200) << r.str();
  EXPECT_EQ(r.doc.value("status", ""), "ok") << r.body;
  EXPECT_FALSE(r.doc.contains("why")) << r.body;
}

// A stopped engine: 503 "stopped", and why.
TEST(HttpApi, HealthIs503StoppedOnceTheEngineStops) {
  Harness h;
  Client c = h.client();
  ASSERT_TRUE(h.engine().stop(rt::StopMode::Drain).balanced);
  const Reply r = c.get("/health");
  EXPECT_EQ(r.status, 503) << r.str();
  EXPECT_EQ(r.doc.value("status", ""), "stopped") << r.body;
  EXPECT_EQ(r.doc.value("running", true), false) << r.body;
  EXPECT_NE(r.doc.value("why", "").find("not running"), std::string::npos) << r.body;
}

TEST(HttpApi, PostedTaskIsAcceptedThenCompletes) {
  Harness h;
  Client c = h.client();
  const Reply r = c.post("/tasks", R"({"type": "work", "priority": "high", "deadline": "5s",
                                       "context": {"user_id": "42", "session_id": "7"}})");
  ASSERT_EQ(r.status, 202) << r.str();
  ASSERT_TRUE(r.doc["id"].is_string()) << r.body;  // a string: 64-bit ids survive JavaScript
  const std::string id = r.doc["id"].get<std::string>();
  EXPECT_EQ(r.header("Location"), "/tasks/" + id);
  EXPECT_EQ(r.doc.value("type", ""), "work");
  EXPECT_EQ(r.doc.value("priority", ""), "high");

  ASSERT_TRUE(reaches(c, id, "completed"));
  const Reply t = c.get("/tasks/" + id);
  ASSERT_EQ(t.status, 200) << t.str();
  EXPECT_EQ(t.doc.value("id", ""), id);
  EXPECT_EQ(t.doc.value("type", ""), "work");
  EXPECT_EQ(t.doc.value("priority", ""), "high");
  EXPECT_EQ(t.doc.value("reason", ""), "none");
  EXPECT_GE(t.doc.value("attempts", 0), 1);
  EXPECT_FALSE(t.doc["history"].empty()) << t.body;
  EXPECT_EQ(h.counters().work.load(), 1U);
}

TEST(HttpApi, TaskListFiltersByStateTypeWorkflowAndPages) {
  Harness h;
  Client c = h.client();
  std::vector<std::string> ids;
  ids.reserve(4);
  for (int i = 0; i < 4; ++i)
    ids.push_back(submit(c, "work"));
  const std::string failed = submit(c, "fail", {{"retry", "none"}});
  for (const std::string& id : ids)
    ASSERT_TRUE(reaches(c, id, "completed")) << id;
  ASSERT_TRUE(reaches(c, failed, "failed"));
  const std::string tagged = submit(c, "tagged");
  ASSERT_TRUE(reaches(c, tagged, "completed"));

  const Reply done = c.get("/tasks?state=completed&type=work");
  ASSERT_EQ(done.status, 200) << done.str();
  std::set<std::string> seen;
  for (const json& t : done.doc["tasks"]) {
    EXPECT_EQ(t.value("state", ""), "completed") << t;
    EXPECT_EQ(t.value("type", ""), "work") << t;
    seen.insert(t.value("id", ""));
  }
  for (const std::string& id : ids)
    EXPECT_EQ(seen.count(id), 1U) << id << " missing from " << done.body;
  EXPECT_EQ(seen.count(failed), 0U);

  const Reply fails = c.get("/tasks?state=failed");
  ASSERT_EQ(fails.status, 200) << fails.str();
  ASSERT_EQ(fails.doc["tasks"].size(), 1U) << fails.body;
  EXPECT_EQ(fails.doc["tasks"][0].value("id", ""), failed);
  EXPECT_EQ(fails.doc["tasks"][0].value("type", ""), "fail");

  // Only the task its type tags with a WorkflowId.
  const Reply wf = c.get("/tasks?workflow=" + std::to_string(http_test::kTaggedWorkflow));
  ASSERT_EQ(wf.status, 200) << wf.str();
  ASSERT_EQ(wf.doc["tasks"].size(), 1U) << wf.body;
  EXPECT_EQ(wf.doc["tasks"][0].value("id", ""), tagged);
  EXPECT_EQ(wf.doc["tasks"][0].value("workflow", 0), http_test::kTaggedWorkflow);
  EXPECT_TRUE(c.get("/tasks?workflow=1").doc["tasks"].empty());

  // Pages: nothing else runs now, so two queries see the same order.
  const Reply first = c.get("/tasks?type=work&limit=2");
  const Reply second = c.get("/tasks?type=work&limit=2&offset=1");
  ASSERT_EQ(first.status, 200) << first.str();
  ASSERT_EQ(second.status, 200) << second.str();
  ASSERT_EQ(first.doc["tasks"].size(), 2U) << first.body;
  ASSERT_EQ(second.doc["tasks"].size(), 2U) << second.body;
  EXPECT_EQ(first.doc.value("limit", 0), 2);
  EXPECT_EQ(second.doc.value("offset", 0), 1);
  EXPECT_EQ(first.doc["tasks"][1]["id"], second.doc["tasks"][0]["id"]);
  const Reply past = c.get("/tasks?type=work&offset=1000");
  ASSERT_EQ(past.status, 200) << past.str();
  EXPECT_TRUE(past.doc["tasks"].empty()) << past.body;
}

TEST(HttpApi, CancelRemovesADelayedTaskOnceThenConflicts) {
  Harness h;
  Client c = h.client();
  const std::string id = submit(c, "work", {{"start_in", "10s"}});
  ASSERT_FALSE(id.empty());
  EXPECT_EQ(c.get("/tasks/" + id).doc.value("state", ""), "scheduled");

  const Reply r = c.post("/tasks/" + id + "/cancel");
  ASSERT_EQ(r.status, 200) << r.str();
  EXPECT_EQ(r.doc.value("result", ""), "removed");
  EXPECT_EQ(r.doc.value("id", ""), id);
  ASSERT_TRUE(reaches(c, id, "cancelled"));

  const Reply again = c.post("/tasks/" + id + "/cancel");
  ASSERT_TRUE(http_test::is_error(again, 409));
  EXPECT_NE(http_test::detail(again).find(id), std::string::npos) << again.body;
  EXPECT_EQ(h.counters().work.load(), 0U);
}

TEST(HttpApi, AClosedGateFailsTheTasksThatNeedIt) {
  Harness h;
  Client c = h.client();
  Reply g = c.get("/gates");
  ASSERT_EQ(g.status, 200) << g.str();
  ASSERT_EQ(g.doc["gates"].size(), 1U) << g.body;
  EXPECT_EQ(g.doc["gates"][0], (json{{"name", "door"}, {"open", true}}));

  Reply put = c.put("/gates/door", R"({"open": false})");
  ASSERT_EQ(put.status, 200) << put.str();
  EXPECT_EQ(put.doc.value("open", true), false);
  EXPECT_EQ(put.doc.value("changed", false), true);
  EXPECT_FALSE(h.engine().gate_open(0));
  EXPECT_EQ(c.get("/gates").doc["gates"][0].value("open", true), false);
  // Closing it again changes nothing, and says so.
  EXPECT_EQ(c.put("/gates/door", R"({"open": false})").doc.value("changed", true), false);

  const std::string shut = submit(c, "gated");
  ASSERT_TRUE(reaches(c, shut, "failed"));
  EXPECT_EQ(c.get("/tasks/" + shut).doc.value("reason", ""), "gate_violation");
  EXPECT_EQ(h.counters().work.load(), 0U);

  ASSERT_EQ(c.put("/gates/door", R"({"open": true})").status, 200);
  const std::string open = submit(c, "gated");
  ASSERT_TRUE(reaches(c, open, "completed"));
  EXPECT_EQ(h.counters().work.load(), 1U);
}

TEST(HttpApi, EventsSinceNextReturnOnlyNewerOnes) {
  Harness h;
  Client c = h.client();
  ASSERT_EQ(c.put("/gates/door", R"({"open": false})").status, 200);
  h.bus().flush();
  const Reply first = c.get("/events?since=0");
  ASSERT_EQ(first.status, 200) << first.str();
  ASSERT_TRUE(first.doc["events"].is_array()) << first.body;
  bool closed = false;
  for (const json& ev : first.doc["events"])
    closed = closed || ev.value("kind", "") == "gate_changed";
  EXPECT_TRUE(closed) << first.body;
  ASSERT_TRUE(first.doc["next"].is_string()) << first.body;
  const std::string next = first.doc["next"].get<std::string>();

  ASSERT_EQ(c.put("/gates/door", R"({"open": true})").status, 200);
  h.bus().flush();
  const Reply second = c.get("/events?since=" + next);
  ASSERT_EQ(second.status, 200) << second.str();
  const auto since = std::stoll(next);
  std::size_t gate_changes = 0;
  for (const json& ev : second.doc["events"]) {
    EXPECT_GE(ev.value("at_ns", std::int64_t{0}), since) << ev;
    gate_changes += ev.value("kind", "") == "gate_changed" ? 1U : 0U;
  }
  // The reopening, and not the closing the first call returned.
  EXPECT_EQ(gate_changes, 1U) << second.body;
  EXPECT_GE(std::stoll(second.doc["next"].get<std::string>()), since);

  const Reply kinds = c.get("/events?since=0&kind=gate_changed");
  ASSERT_EQ(kinds.status, 200) << kinds.str();
  EXPECT_EQ(kinds.doc["events"].size(), 2U) << kinds.body;
}

}  // namespace

namespace {

TEST(HttpApi, ClearingFinishedTasksKeepsTheMostRecent) {
  Harness h;
  Client c = h.client();
  std::vector<std::string> ids;
  for (int i = 0; i < 5; ++i) {
    ids.push_back(submit(c, "work"));
    ASSERT_FALSE(ids.back().empty());
  }
  for (const std::string& id : ids)
    ASSERT_TRUE(reaches(c, id, "completed"));

  ASSERT_TRUE(http_test::is_error(c.del("/tasks?keep=x"), 400));
  ASSERT_TRUE(http_test::is_error(c.del("/tasks?kept=1"), 400));
  const Reply r = c.del("/tasks?keep=2");
  ASSERT_EQ(r.status, 200) << r.str();
  EXPECT_GE(r.doc.value("cleared", 0), 3) << r.body;
  const Reply left = c.get("/tasks?state=completed");
  ASSERT_EQ(left.status, 200) << left.str();
  EXPECT_LE(left.doc["tasks"].size(), 2U) << left.body;
  // The newest survive: the last one submitted is still queryable, the first is not.
  EXPECT_EQ(c.get("/tasks/" + ids.back()).status, 200);
  EXPECT_TRUE(http_test::is_error(c.get("/tasks/" + ids.front()), 404));
}

}  // namespace
