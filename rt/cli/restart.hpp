#pragma once
// F30 in `rtengine run`: the journal at [journal].path is resubmitted at start and
// rewritten at stop. Delivery is at least once: the file stays until the next stop
// rewrites it, so a crash after a resubmission runs those tasks again at the next start
// rather than losing them. Setup only.
#include <iosfwd>
#include <vector>

#include "assembly.hpp"
#include "rt/journal.hpp"
#include "rt/log.hpp"
#include "rt/unrun.hpp"

namespace rt::cli {

// Reads the journal and submits its tasks through `p`. A corrupt journal is reported
// (on `err` and in the log) and set aside, never trusted. Returns the entries it could
// not submit (an unknown type or gate, a refusal): save_journal keeps them for the next
// start, so a config without their type loses none of them.
std::vector<JournalEntry> restore_journal(const config::AppConfig& c, Engine& e, Producer& p, const Assembly& as,
                                          Logger& log, std::ostream& err);

// Writes `kept` and the tasks of the journaled types among `unrun` (all [[task]] types
// when journal.types is empty). Returns how many were written.
std::size_t save_journal(const config::AppConfig& c, const Engine& e, const std::vector<UnrunTask>& unrun,
                         std::vector<JournalEntry> kept, Logger& log, std::ostream& err);

}  // namespace rt::cli
