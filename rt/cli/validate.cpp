// `rtengine validate CONFIG`: the loader's diagnostics, all of them, then a one-line summary.
#include <ostream>

#include "cli.hpp"
#include "rtconfig/config.hpp"

namespace rt::cli {

int validate(const std::string& path, std::ostream& out, std::ostream& err) {
  const config::LoadResult r = config::load(path, config::LoadOptions{handler_names()});
  if (!r.ok()) {
    for (const config::Diagnostic& d : r.errors)
      err << d.str() << "\n";
    err << path << ": " << r.errors.size() << (r.errors.size() == 1 ? " error\n" : " errors\n");
    return kExitFailed;
  }
  const config::AppConfig& c = r.config;
  out << path << ": ok: " << c.engine.workers.size() << " workers, " << c.periodic.size() << " periodic tasks, "
      << c.graphs.size() << " workflows, " << c.sagas.size() << " sagas, " << c.tasks.size() << " task types\n";
  return kExitOk;
}

}  // namespace rt::cli
