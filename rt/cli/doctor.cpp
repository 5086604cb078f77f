// `rtengine doctor`: hal's system check rendered as a table for people or JSON for tools.
#include <algorithm>
#include <nlohmann/json.hpp>
#include <ostream>
#include <system_error>

#include "cli.hpp"
#include "hal/syscheck.hpp"
#include "rt/version.hpp"

namespace rt::cli {

namespace {

const char* tag(hal::Verdict v) {
  switch (v) {
    case hal::Verdict::Ok:
      return "[ ok ]";
    case hal::Verdict::Info:
      return "[info]";
    case hal::Verdict::Warn:
      return "[warn]";
    case hal::Verdict::Fail:
      return "[FAIL]";
  }
  return "[ ?? ]";
}

void render_table(const hal::Report& r, const std::filesystem::path& root, bool live, std::ostream& out) {
  out << "rtengine doctor " << version() << ": real-time readiness of this machine and process";
  if (!live) out << " (tree " << root.string() << ", no live probes)";
  out << "\n\n";
  std::size_t width = 0;
  for (const auto& c : r.checks)
    width = std::max(width, c.title.size());
  for (const auto& c : r.checks) {
    out << "  " << tag(c.verdict) << "  " << c.title << std::string(width - c.title.size() + 2, ' ') << c.value << '\n';
    if (!c.advice.empty()) out << "  " << std::string(8 + width + 2, ' ') << "-> " << c.advice << '\n';
  }
  out << "\nSummary: " << r.ok << " ok, " << r.info << " info, " << r.warn << " warn, " << r.fail << " fail\n"
      << "Verdict: " << hal::to_string(r.overall) << ": " << r.summary << '\n';
}

void render_json(const hal::Report& r, const hal::SystemFacts& f, bool live, std::ostream& out) {
  nlohmann::json checks = nlohmann::json::array();
  for (const auto& c : r.checks) {
    checks.push_back({{"id", c.id},
                      {"title", c.title},
                      {"verdict", hal::to_string(c.verdict)},
                      {"value", c.value},
                      {"advice", c.advice}});
  }
  nlohmann::json doc = {
      {"tool", "rtengine doctor"},
      {"version", version()},
      {"build", build_info()},
      {"live", live},
      {"kernel", {{"release", f.kernel_release}, {"version", f.kernel_version}}},
      {"checks", checks},
      {"summary",
       {{"ok", r.ok},
        {"info", r.info},
        {"warn", r.warn},
        {"fail", r.fail},
        {"overall", hal::to_string(r.overall)},
        {"text", r.summary}}},
  };
  out << doc.dump(2) << '\n';
}

}  // namespace

int doctor(const DoctorOptions& opts, std::ostream& out, std::ostream& err) {
  std::error_code ec;
  if (!std::filesystem::is_directory(opts.root, ec)) {
    err << "rtengine: doctor: --root " << opts.root.string() << " is not a folder\n";
    return kExitUsage;
  }
  const bool live = std::filesystem::equivalent(opts.root, "/", ec);
  const hal::SystemFacts facts = hal::read_system_facts(opts.root);
  hal::LiveFacts live_facts;
  if (live) live_facts = hal::probe_live_facts();
  const hal::Report report = hal::evaluate(facts, live ? &live_facts : nullptr);
  if (opts.json) {
    render_json(report, facts, live, out);
  } else {
    render_table(report, opts.root, live, out);
  }
  return opts.strict && report.fail > 0 ? kExitFailed : kExitOk;
}

}  // namespace rt::cli
