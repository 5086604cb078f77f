#include "restart.hpp"

#include <algorithm>
#include <iterator>
#include <ostream>

namespace rt::cli {

std::vector<JournalEntry> restore_journal(const config::AppConfig& c, Engine& e, Producer& p, const Assembly& as,
                                          Logger& log, std::ostream& err) {
  if (c.journal.path.empty()) return {};
  const JournalRead j = read_journal(c.journal.path);
  if (j.status == JournalStatus::Missing) return {};
  if (j.status == JournalStatus::Corrupt) {
    const std::string aside = set_aside(c.journal.path).string();
    err << "rtengine run: journal " << c.journal.path << " is corrupt (" << j.error << "); set aside as " << aside
        << ", nothing resubmitted\n";
    log.log(LogLevel::Error, "journal_corrupt", j.error, {{"path", c.journal.path}, {"set_aside", aside}});
    return {};
  }
  // What this run cannot submit stays for a later one: kept aside, one by one.
  std::vector<JournalEntry> now, kept;
  for (const JournalEntry& entry : j.entries) {
    bool known = as.handler_for(entry.type) != nullptr && e.type_index(entry.type) >= 0;
    for (const std::string& g : entry.gates)
      known = known && e.gate_index(g) >= 0;
    (known ? now : kept).push_back(entry);
  }
  const ResubmitResult r = resubmit(e, p, now, [&as](std::string_view type) { return as.handler_for(type); });
  for (const auto& [index, status] : r.refusals)
    kept.push_back(now[index]);
  if (!kept.empty()) {
    err << "rtengine run: journal " << c.journal.path << ": " << kept.size() << " of " << j.entries.size()
        << " tasks not resubmitted (a type or gate this config lacks, or refused); kept for the next start\n";
  }
  log.log(
      kept.empty() ? LogLevel::Info : LogLevel::Warn, "journal_resubmitted", "tasks from the last stop",
      {{"path", c.journal.path}, {"submitted", std::to_string(r.submitted)}, {"kept", std::to_string(kept.size())}});
  return kept;
}

std::size_t save_journal(const config::AppConfig& c, const Engine& e, const std::vector<UnrunTask>& unrun,
                         std::vector<JournalEntry> kept, Logger& log, std::ostream& err) {
  if (c.journal.path.empty()) return 0;
  std::vector<JournalEntry> entries;
  try {
    entries = to_journal(e, unrun);
  } catch (const std::exception& ex) {  // a type or gate the engine's own tables lack: a bug, said so
    err << "rtengine run: journal: " << ex.what() << "\n";
  }
  std::erase_if(entries, [&c](const JournalEntry& j) {
    const auto& types = c.journal.types;
    if (!types.empty()) return std::find(types.begin(), types.end(), j.type) == types.end();
    // All [[task]] types: the run's own submissions; type 0 is the engine's (sagas).
    return std::none_of(c.tasks.begin(), c.tasks.end(), [&j](const config::TaskDecl& t) { return t.name == j.type; });
  });
  entries.insert(entries.begin(), std::make_move_iterator(kept.begin()), std::make_move_iterator(kept.end()));
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
