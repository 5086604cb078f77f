#include "restart.hpp"

#include <algorithm>
#include <ostream>

#include "rt/journal.hpp"

namespace rt::cli {

std::size_t restore_journal(const config::AppConfig& c, Engine& e, Producer& p, const Assembly& as, Logger& log,
                            std::ostream& err) {
  if (c.journal.path.empty()) return 0;
  const JournalRead j = read_journal(c.journal.path);
  if (j.status == JournalStatus::Missing) return 0;
  if (j.status == JournalStatus::Corrupt) {
    const std::string aside = set_aside(c.journal.path).string();
    err << "rtengine run: journal " << c.journal.path << " is corrupt (" << j.error << "); set aside as " << aside
        << ", nothing resubmitted\n";
    log.log(LogLevel::Error, "journal_corrupt", j.error, {{"path", c.journal.path}, {"set_aside", aside}});
    return 0;
  }
  const ResubmitResult r = resubmit(e, p, j.entries, [&as](std::string_view type) { return as.handler_for(type); });
  const std::size_t lost = r.unknown_type + r.unknown_gate + r.refused;
  if (lost != 0) {
    err << "rtengine run: journal " << c.journal.path << ": " << lost << " of " << j.entries.size()
        << " tasks not resubmitted (" << r.unknown_type << " of an unknown type, " << r.unknown_gate
        << " with an unknown gate, " << r.refused << " refused)\n";
  }
  log.log(lost == 0 ? LogLevel::Info : LogLevel::Warn, "journal_resubmitted", "tasks from the last stop",
          {{"path", c.journal.path},
           {"submitted", std::to_string(r.submitted)},
           {"not_resubmitted", std::to_string(lost)}});
  return r.submitted;
}

std::size_t save_journal(const config::AppConfig& c, const Engine& e, const std::vector<UnrunTask>& unrun, Logger& log,
                         std::ostream& err) {
  if (c.journal.path.empty()) return 0;
  std::vector<JournalEntry> entries = to_journal(e, unrun);
  std::erase_if(entries, [&c](const JournalEntry& j) {
    const auto& types = c.journal.types;
    if (!types.empty()) return std::find(types.begin(), types.end(), j.type) == types.end();
    // All [[task]] types: the run's own submissions; type 0 is the engine's (sagas).
    return std::none_of(c.tasks.begin(), c.tasks.end(), [&j](const config::TaskDecl& t) { return t.name == j.type; });
  });
  try {
    write_journal(c.journal.path, entries);
  } catch (const std::exception& ex) {
    err << "rtengine run: " << ex.what() << "; " << entries.size() << " unrun tasks are lost\n";
    log.log(LogLevel::Error, "journal_write_failed", ex.what(), {{"path", c.journal.path}});
    return 0;
  }
  log.log(LogLevel::Info, "journal_written", "unrun tasks for the next start",
          {{"path", c.journal.path}, {"tasks", std::to_string(entries.size())}});
  return entries.size();
}

}  // namespace rt::cli
