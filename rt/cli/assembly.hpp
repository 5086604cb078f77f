#pragma once
// What `rtengine run` builds from a config around an Engine: the handlers' states, the
// graphs, periodic tasks and sagas installed into the engine, and the load generator that
// submits each [[task]] type at its rate. Setup (the constructor, install) allocates and
// throws std::runtime_error naming the declaration; submit_due runs on the run command's
// own (non-RT) thread.
#include <memory>
#include <string>
#include <vector>

#include "demo_loop.hpp"
#include "handlers.hpp"
#include "rt/engine.hpp"
#include "rtconfig/config.hpp"
#include "rthttp/api.hpp"

namespace rt::cli {

class Assembly {
 public:
  explicit Assembly(const config::AppConfig& cfg);
  Assembly(const Assembly&) = delete;
  Assembly& operator=(const Assembly&) = delete;
  ~Assembly();

  // Setup, before Engine::start: graphs, periodic tasks (and periodic graphs), sagas.
  void install(Engine& e);
  // After Engine::start: starts every periodic task.
  void start_periodic(Engine& e);
  // Submits every [[task]] and [[saga]] due at `now` (rates), through `p`. Returns the
  // earliest time something is due next.
  ns_t submit_due(Engine& e, Producer& p, ns_t now);

  // What the HTTP API may submit: every [[task]] type with its handler and configured
  // options, and the [retry.NAME] policies. Setup, after install.
  [[nodiscard]] http::Catalog catalog(const Engine& e) const;

  // The callable a journaled task of `type` runs again with; nullptr for an unknown type.
  [[nodiscard]] const TaskFn* handler_for(std::string_view type) const;

  struct Refusals {
    std::uint64_t submitted = 0, refused = 0, sagas_started = 0, sagas_busy = 0;
  };
  [[nodiscard]] Refusals refusals() const noexcept { return counts_; }
  [[nodiscard]] const std::vector<std::unique_ptr<Motor>>& motors() const noexcept { return motors_; }
  [[nodiscard]] const std::vector<int>& periodic_ids() const noexcept { return periodic_ids_; }
  [[nodiscard]] const std::vector<int>& graph_ids() const noexcept { return graph_ids_; }

 private:
  struct Source {   // a [[task]] type or a [[saga]] submitted at a rate
    int type = -1;  // TypeId; -1 for a saga
    int saga = -1;
    SubmitOptions opts;
    WorkState* work = nullptr;
    ns_t interval = 0;
    ns_t next = 0;
  };
  const config::AppConfig& cfg_;
  std::vector<std::unique_ptr<WorkState>> work_;
  std::vector<WorkState*> task_work_;  // per cfg.tasks entry
  std::vector<std::unique_ptr<Motor>> motors_;
  std::vector<std::unique_ptr<Frame>> frames_;
  HandlerRegistry registry_;       // graph nodes and saga steps, each node under its own key
  HandlerRegistry type_handlers_;  // per [[task]] type name, for the journal
  std::vector<Source> sources_;
  std::vector<int> periodic_ids_, graph_ids_;
  Refusals counts_;
};

}  // namespace rt::cli
