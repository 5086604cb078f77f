// R7: libFuzzer on the config loader. parse() must return on any bytes, without a crash,
// a leak, undefined behaviour or a hang (scripts/fuzz.sh runs it with -timeout=10), and
// what it returns must hold the invariants below; a broken one traps, so libFuzzer keeps
// the input as a crash.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "handlers.hpp"
#include "rt/graph.hpp"
#include "rtconfig/config.hpp"

namespace {

const rt::config::LoadOptions& options() {
  static const rt::config::LoadOptions opts = [] {
    rt::config::LoadOptions o;
    for (std::string_view h : rt::cli::kHandlers)
      o.handlers.emplace_back(h);
    return o;
  }();
  return opts;
}

void check(bool invariant) {
  if (!invariant) __builtin_trap();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  const rt::config::LoadResult r = rt::config::parse(text, "fuzz.toml", options());
  const rt::config::Diagnostic* prev = nullptr;
  for (const rt::config::Diagnostic& d : r.errors) {
    check(!d.message.empty() && d.line >= 0 && d.column >= 0 && d.file == "fuzz.toml");
    check(d.line > 0 || d.column == 0);  // a column only on a line
    check(!d.str().empty());
    // Sorted by place, so `rtengine validate` reads top to bottom.
    check(prev == nullptr || prev->line < d.line || (prev->line == d.line && prev->column <= d.column));
    prev = &d;
  }
  if (r.ok()) {
    // What the loader accepts, the engine must accept too: its checks of the workflows
    // are the same checks, not a weaker copy.
    const auto any_handler = [](std::string_view) { return true; };
    for (const rt::config::GraphDecl& g : r.config.graphs) {
      check(g.params.size() == g.spec.nodes.size());
      check(rt::check(g.spec, any_handler).empty());
    }
    for (const rt::config::PeriodicDecl& p : r.config.periodic)
      check(p.spec.deadline <= p.spec.period && !p.spec.name.empty());
  }
  return 0;
}
