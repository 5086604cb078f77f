// The install test's control application: starts an engine, submits a task, waits for
// it and checks what it did; parses the built-in config with the installed loader.
// Exit 0 when all is well, 1 with a line on stderr when not.
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <rt/engine.hpp>
#include <rt/version.hpp>
#include <rtconfig/config.hpp>
#include <thread>

namespace {

int fail(const char* what) {
  std::fprintf(stderr, "consumer: %s\n", what);
  return 1;
}

}  // namespace

int main() {
  if (std::strlen(rt::version()) == 0) return fail("rt::version() is empty");

  const rt::config::LoadResult cfg = rt::config::parse(rt::config::default_text(), "default.toml");
  if (!cfg.ok()) return fail("the built-in config does not parse");

  rt::EngineConfig c;
  c.lock_memory = false;  // a test, not a control loop: no RLIMIT_MEMLOCK needed
  c.max_tasks = 64;
  c.retain_completed = 16;
  c.ring_capacity = {16, 16, 16, 16, 16};
  rt::Engine engine(c);
  engine.start();
  rt::Producer producer = engine.make_producer();

  std::atomic<int> result{0};
  rt::TaskId id;
  if (producer.try_submit([&result] { result.store(6 * 7); }, {}, &id) != rt::SubmitStatus::Ok)
    return fail("try_submit refused the task");

  // Bounded by a count of sleeps, not a clock: a slow machine only takes longer.
  rt::TaskInfo info;
  for (int i = 0; i < 300000; ++i) {
    if (engine.status(id, info) && info.state == rt::State::Completed) break;
    std::this_thread::sleep_for(std::chrono::microseconds(100));
  }
  if (info.state != rt::State::Completed) return fail("the task did not complete");
  if (result.load() != 42) return fail("the task did not do its work");

  const rt::StopReport r = engine.stop(rt::StopMode::Drain);
  if (!r.balanced || r.stats.completed != 1) return fail("stop's report does not add up");
  std::printf("consumer: rtengine %s ran a task (42)\n", rt::version());
  return 0;
}
