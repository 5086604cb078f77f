// `rtengine validate CONFIG`: the loader's diagnostics, all of them; then, for a file the
// loader accepts, a dry run of what `run` builds from it (the engine and everything
// installed into it, nothing started), so a file validate accepts is one run starts.
#include <ostream>

#include "assembly.hpp"
#include "cli.hpp"
#include "rtconfig/config.hpp"

namespace rt::cli {

namespace {

// What `run` would refuse, as one message; empty when it would start.
std::string dry_run(const config::AppConfig& c) {
  EngineConfig ec = c.engine;
  ec.lock_memory = false;  // a check, not a run: lock nothing
  try {
    Assembly as(c);
    Engine engine(ec);
    as.install(engine);
  } catch (const std::exception& e) {
    return e.what();
  }
  return {};
}

}  // namespace

int validate(const std::string& path, std::ostream& out, std::ostream& err) {
  const config::LoadResult r = config::load(path, load_options());
  if (!r.ok()) {
    for (const config::Diagnostic& d : r.errors)
      err << d.str() << "\n";
    err << path << ": " << r.errors.size() << (r.errors.size() == 1 ? " error\n" : " errors\n");
    return kExitFailed;
  }
  if (const std::string why = dry_run(r.config); !why.empty()) {
    // Assembly's messages start with file:line already; the engine's name their field.
    err << (why.rfind(path, 0) == 0 ? why : path + ": " + why) << "\n" << path << ": 1 error\n";
    return kExitFailed;
  }
  const config::AppConfig& c = r.config;
  out << path << ": ok: " << c.engine.workers.size() << " workers, " << c.periodic.size() << " periodic tasks, "
      << c.graphs.size() << " workflows, " << c.sagas.size() << " sagas, " << c.tasks.size() << " task types\n";
  return kExitOk;
}

}  // namespace rt::cli
