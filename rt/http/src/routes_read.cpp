// The GET endpoints: the engine's lock-free queries and snapshots, as JSON.
#include <algorithm>
#include <string>
#include <variant>

#include "hal/clock.hpp"
#include "routes.hpp"
#include "rt/health.hpp"
#include "rthttp/metrics.hpp"
#include "rthttp/parse.hpp"

namespace rt::http::detail {

using nlohmann::json;

Response json_response(const json& j, int status) {
  Response r;
  r.status = status;
  // Names and error texts come from configs and tasks: a bad byte is replaced, not thrown on.
  r.body = j.dump(-1, ' ', false, json::error_handler_t::replace);
  r.body += '\n';
  return r;
}

Response bad_field(const FieldError& f) {
  return error_response(400, "bad_request", f.field.empty() ? f.message : f.field + ": " + f.message);
}

std::string type_name(const Engine& e, TypeId t) {
  const auto& names = e.config().task_types;
  return t < names.size() ? names[t] : std::to_string(t);
}

namespace {

json summary_json(const HistogramSummary& h) {
  return json{{"count", h.count}, {"min_ns", h.min}, {"mean_ns", h.mean}, {"p50_ns", h.p50},
              {"p90_ns", h.p90},  {"p99_ns", h.p99}, {"p999_ns", h.p999}, {"max_ns", h.max}};
}

double seconds(ns_t ns) { return static_cast<double>(ns) * 1e-9; }

}  // namespace

json task_json(const Engine& e, const TaskInfo& t) {
  json history = json::array();
  for (std::size_t i = 0; i < t.history_size && i < t.history.size(); ++i)
    history.push_back(json{{"state", to_string(t.history[i].state)}, {"at_ns", t.history[i].at}});
  return json{{"id", task_id_string(t.id)},    {"state", to_string(t.state)},
              {"reason", to_string(t.reason)}, {"priority", to_string(t.priority)},
              {"type", type_name(e, t.type)},  {"workflow", t.workflow},
              {"deadline_ns", t.deadline},     {"start_at_ns", t.start_at},
              {"created_ns", t.created},       {"started_ns", t.started},
              {"finished_ns", t.finished},     {"worker", t.worker},
              {"attempts", t.attempts},        {"history", history}};
}

namespace {

// GET /health's words for rt::diagnose's verdict ("ok" and "stopped" as before it had more).
const char* health_status(Ailment a) {
  switch (a) {
    case Ailment::None:
      return "ok";
    case Ailment::NotRunning:
      return "stopped";
    case Ailment::Stalled:
      return "stalled";
    case Ailment::MonitorStuck:
      return "monitor_stuck";
  }
  return "unknown";
}

}  // namespace

Response get_health(Ctx& c) {
  const Stats s = c.engine.stats();
  std::int64_t depth = 0;
  for (const std::int64_t d : s.queue_depth)
    depth += d;
  const double up = std::max(seconds(s.uptime_ns), 1e-9);
  const std::uint64_t outcomes = s.outcomes();
  const Health h = c.engine.health();
  // The rule `rtengine run` pets its watchdogs by: a load balancer and systemd agree.
  const Diagnosis d = diagnose(h, hal::now_ns());
  json j{{"status", health_status(d.what)},
         {"running", h.running},
         {"uptime_s", seconds(s.uptime_ns)},
         {"queue_depth", depth},
         {"running_tasks", s.running},
         {"in_flight", c.engine.in_flight()},
         {"active_workers", c.engine.active_workers()},
         {"completed_per_s", static_cast<double>(s.completed) / up},
         {"failed_per_s", static_cast<double>(s.failed + s.timed_out) / up},
         {"failure_ratio",
          outcomes == 0 ? 0.0 : static_cast<double>(s.failed + s.timed_out) / static_cast<double>(outcomes)}};
  if (d.what != Ailment::None) j["why"] = d.why;
  // A load balancer or a watchdog reads the status code: 503 whenever not healthy.
  return json_response(j, d.what == Ailment::None ? 200 : 503);
}

Response get_stats(Ctx& c) {
  const Stats s = c.engine.stats();
  json depth = json::object(), full = json::object();
  for (std::size_t i = 0; i < kClassCount; ++i) {
    const std::string name(to_string(static_cast<Priority>(i)));
    depth[name] = s.queue_depth[i];
    full[name] = s.queue_full[i];
  }
  json workers = json::array();
  for (const WorkerStats& w : s.workers) {
    workers.push_back(json{{"index", w.index},
                           {"state", to_string(w.state)},
                           {"policy", w.applied.policy == SCHED_FIFO ? "SCHED_FIFO" : "SCHED_OTHER"},
                           {"priority", w.applied.priority},
                           {"cpu", w.applied.cpu},
                           {"degraded", w.applied.degraded()},
                           {"tasks_done", w.tasks_done},
                           {"prewakes", w.prewakes},
                           {"feeds_met", w.feeds_met},
                           {"sleeps", w.sleeps},
                           {"feed_lead_us", static_cast<double>(w.feed_lead) / 1000.0},
                           {"utilization", w.utilization}});
  }
  json rollbacks = json::object();
  for (std::size_t t = 0; t < s.rollbacks_by_type.size(); ++t)
    rollbacks[type_name(c.engine, static_cast<TypeId>(t))] = s.rollbacks_by_type[t];
  json j{{"uptime_s", seconds(s.uptime_ns)},
         {"submitted", s.submitted},
         {"completed", s.completed},
         {"failed", s.failed},
         {"timed_out", s.timed_out},
         {"cancelled", s.cancelled},
         {"skipped", s.skipped},
         {"rolled_back", s.rolled_back},
         {"rollbacks_by_type", rollbacks},
         {"exceptions", s.exceptions},
         {"gate_violations", s.gate_violations},
         {"deadline_misses", s.deadline_misses},
         {"stalls", s.stalls},
         {"retries", s.retries},
         {"dead_lettered", s.dead_lettered},
         {"scheduled", s.scheduled},
         {"running", s.running},
         {"in_flight", c.engine.in_flight()},
         {"retained", s.retained},
         {"queue_depth", depth},
         {"queue_full", full},
         {"no_free_slot", s.no_free_slot},
         {"circuit_open", s.circuit_open},
         {"invalid", s.invalid},
         {"events_published", s.events_published},
         {"events_dropped", s.events_dropped},
         {"monitor_backend", hal::to_string(s.monitor_backend)},
         {"workers", workers},
         {"dispatch_latency", summary_json(s.dispatch)},
         {"execution_time", summary_json(s.execution)},
         {"detection_latency", summary_json(s.detection)}};
  return json_response(j);
}

Response get_tasks(Ctx& c, std::string_view query) {
  auto q = parse_query(query);
  if (const auto* e = std::get_if<FieldError>(&q)) return bad_field(*e);
  auto lq = parse_list_query(std::get<QueryParams>(q), c.engine.config().task_types, c.cfg.max_list);
  if (const auto* e = std::get_if<FieldError>(&lq)) return bad_field(*e);
  const ListQuery& l = std::get<ListQuery>(lq);
  json tasks = json::array();
  for (const TaskInfo& t : c.engine.list(l))
    tasks.push_back(task_json(c.engine, t));
  return json_response(json{{"tasks", tasks}, {"limit", l.limit}, {"offset", l.offset}});
}

Response get_task(Ctx& c, std::string_view id) {
  const std::optional<TaskId> tid = parse_task_id(id);
  TaskInfo info;
  if (!tid || !c.engine.status(*tid, info))
    return error_response(404, "not_found", "no task " + std::string(id.substr(0, 64)));
  return json_response(task_json(c.engine, info));
}

Response get_gates(Ctx& c) {
  json gates = json::array();
  const auto& names = c.engine.config().gates;
  for (std::size_t i = 0; i < names.size(); ++i)
    gates.push_back(json{{"name", names[i]}, {"open", c.engine.gate_open(i)}});
  return json_response(json{{"gates", gates}});
}

Response get_periodic(Ctx& c) {
  json loops = json::array();
  for (std::size_t i = 0; i < c.engine.periodic_count(); ++i) {
    const PeriodicStats p = c.engine.periodic_stats(static_cast<int>(i));
    loops.push_back(json{{"name", p.name},
                         {"state", to_string(p.state)},
                         {"worker", p.worker},
                         {"period_ns", p.period},
                         {"releases", p.releases},
                         {"runs", p.runs},
                         {"skipped", p.skipped},
                         {"overruns", p.overruns},
                         {"deadline_misses", p.deadline_misses},
                         {"rollbacks", p.rollbacks},
                         {"exceptions", p.exceptions},
                         {"jitter", summary_json(p.jitter)},
                         {"response", summary_json(p.response)},
                         {"execution", summary_json(p.execution)}});
  }
  return json_response(json{{"periodic", loops}});
}

Response get_workflows(Ctx& c) {
  json out = json::array();
  for (std::size_t g = 0; g < c.engine.graph_count(); ++g) {
    const GraphStats s = c.engine.graph_stats(static_cast<int>(g));
    out.push_back(json{{"name", s.name},
                       {"kind", "graph"},
                       {"id", g + 1},
                       {"running", s.running},
                       {"runs", s.runs},
                       {"completed", s.completed_runs},
                       {"failed", s.failed_runs},
                       {"deadline_misses", s.deadline_misses},
                       {"busy", s.busy},
                       {"last_duration_ns", s.duration.last},
                       {"mean_duration_ns", s.duration.mean}});
  }
  for (std::size_t i = 0; i < c.engine.saga_count(); ++i) {
    const SagaStats s = c.engine.saga_stats(static_cast<int>(i));
    out.push_back(json{{"name", s.name},
                       {"kind", "saga"},
                       {"running", s.running},
                       {"runs", s.runs},
                       {"completed", s.completed},
                       {"compensated", s.compensated},
                       {"compensation_failed", s.compensation_failed},
                       {"busy", s.busy}});
  }
  return json_response(json{{"workflows", out}});
}

namespace {

// limit and offset of a list endpoint, or the 400 that names the bad one.
std::variant<std::pair<std::size_t, std::size_t>, Response> paging(std::string_view query, std::size_t max) {
  auto q = parse_query(query);
  if (const auto* e = std::get_if<FieldError>(&q)) return bad_field(*e);
  std::size_t limit = 100, offset = 0;
  for (const auto& [k, v] : std::get<QueryParams>(q)) {
    if (k != "limit" && k != "offset") return bad_field(FieldError{k, "unknown parameter (limit, offset)"});
    auto n = parse_uint(k, v, k == "limit" ? 1 : 0, k == "limit" ? max : UINT32_MAX);
    if (const auto* e = std::get_if<FieldError>(&n)) return bad_field(*e);
    (k == "limit" ? limit : offset) = static_cast<std::size_t>(std::get<std::uint64_t>(n));
  }
  return std::pair{limit, offset};
}

}  // namespace

Response get_dead_letters(Ctx& c, std::string_view query) {
  auto pg = paging(query, c.cfg.max_list);
  if (auto* r = std::get_if<Response>(&pg)) return std::move(*r);
  const auto [limit, offset] = std::get<std::pair<std::size_t, std::size_t>>(pg);
  json entries = json::array();
  for (const DeadLetter& d : c.engine.dead_letters(limit, offset)) {
    entries.push_back(json{{"seq", std::to_string(d.seq)},
                           {"id", task_id_string(d.id)},
                           {"type", type_name(c.engine, d.type)},
                           {"priority", to_string(d.priority)},
                           {"workflow", d.workflow},
                           {"attempts", d.attempts},
                           {"last_state", to_string(d.last_state)},
                           {"last_reason", to_string(d.last_reason)},
                           {"error", std::string(d.error_text())},
                           {"at_ns", d.at}});
  }
  const DeadLetterStats s = c.engine.dead_letter_stats();
  return json_response(json{{"entries", entries},
                            {"size", s.size},
                            {"capacity", s.capacity},
                            {"dropped_oldest", s.dropped_oldest},
                            {"limit", limit},
                            {"offset", offset}});
}

Response get_breakers(Ctx& c) {
  json out = json::array();
  const auto& types = c.engine.config().task_types;
  for (std::size_t t = 0; t < types.size(); ++t) {
    BreakerStats b;
    if (!c.engine.breaker_stats(static_cast<TypeId>(t), b)) continue;
    out.push_back(json{{"type", types[t]},
                       {"state", to_string(b.state)},
                       {"failures", b.failures},
                       {"successes", b.successes},
                       {"rejected", b.rejected},
                       {"opened", b.opened},
                       {"opened_at_ns", b.opened_at}});
  }
  return json_response(json{{"breakers", out}});
}

Response get_events(Ctx& c, std::string_view query) {
  if (c.history == nullptr) return error_response(404, "not_found", "this server keeps no event history");
  auto q = parse_query(query);
  if (const auto* e = std::get_if<FieldError>(&q)) return bad_field(*e);
  std::uint64_t since = 0, limit = 100;
  EventFilter f;
  for (const auto& [k, v] : std::get<QueryParams>(q)) {
    if (k == "since" || k == "limit") {
      auto n = parse_uint(k, v, k == "limit" ? 1 : 0, k == "limit" ? c.cfg.max_list : INT64_MAX);
      if (const auto* e = std::get_if<FieldError>(&n)) return bad_field(*e);
      (k == "since" ? since : limit) = std::get<std::uint64_t>(n);
    } else if (k == "kind") {
      EventKind kind{};
      if (!parse_event_kind(v, kind)) return bad_field(FieldError{k, "unknown event kind \"" + v.substr(0, 64) + "\""});
      f.kinds = event_bit(kind);
    } else {
      return bad_field(FieldError{k, "unknown parameter (since, limit, kind)"});
    }
  }
  json events = json::array();
  ns_t next = static_cast<ns_t>(since);
  // limit is at most max_list (parse_uint above): a size_t on 32-bit targets too.
  for (const Event& ev : c.history->recent(static_cast<std::size_t>(limit), static_cast<ns_t>(since), f)) {
    events.push_back(json{{"kind", to_string(ev.kind)},
                          {"subject", to_string(ev.subject)},
                          {"id", std::to_string(ev.id)},
                          {"type", type_name(c.engine, ev.type)},
                          {"reason", to_string(ev.reason)},
                          {"worker", ev.worker},
                          {"workflow", ev.workflow},
                          {"at_ns", ev.at},
                          {"value", ev.value}});
    next = std::max(next, ev.at + 1);
  }
  // `next`: pass it as since= to get only what came after these.
  return json_response(json{{"events", events}, {"next", std::to_string(next)}, {"now_ns", hal::now_ns()}});
}

Response get_metrics(Ctx& c) {
  Response r;
  r.content_type = "text/plain; version=0.0.4; charset=utf-8";
  r.body = render_metrics(c.engine, c.history, c.metrics);
  return r;
}

}  // namespace rt::http::detail
