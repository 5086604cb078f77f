#pragma once
// F30: a restart loses no work. stop(mode, &unrun) hands over the tasks it cancelled
// before they ran to an end; they are written down (write_journal), read back at the next
// start (read_journal) and submitted again (resubmit). Everything here is setup code: it
// allocates, does file I/O and throws; none of it is for an RT thread.
//
//   std::vector<rt::UnrunTask> unrun;
//   engine.stop(rt::StopMode::Cancel, &unrun);
//   rt::write_journal(path, rt::to_journal(engine, unrun));
//   ...the next process...
//   rt::JournalRead j = rt::read_journal(path);
//   if (j.status == rt::JournalStatus::Corrupt) log(j.error, rt::set_aside(path));
//   else if (j.status == rt::JournalStatus::Ok) rt::resubmit(engine, producer, j.entries, handler_for);
//
// The file is text: a header line `rtengine-journal 1`, one JSON object per entry and
// per line, and a trailer `end <entries> <checksum>` (16 lowercase hex digits: FNV-1a 64
// over every byte before the trailer). A file cut at any byte, or with any byte changed,
// reads as Corrupt, never as a shorter Ok.
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "rt/engine.hpp"
#include "rt/task.hpp"
#include "rt/types.hpp"

namespace rt {

// One task to submit again. Type and gates by name: the next engine may number them
// differently.
struct JournalEntry {
  std::string type;
  Priority priority = Priority::Normal;
  Context context{};
  RetryPolicy retry{};         // as first submitted
  std::uint32_t attempts = 0;  // attempts already made and failed
  ns_t start_in = 0;           // the delay it still had to wait (>= 0)
  ns_t deadline_in = 0;        // its deadline budget from its start; 0 when none
  std::vector<std::string> gates;
};

// Names the task's type and gates from the stopping engine's tables. Throws
// std::out_of_range for a type or gate the tables do not have.
[[nodiscard]] JournalEntry to_journal_entry(const UnrunTask& t, const std::vector<std::string>& type_names,
                                            const std::vector<std::string>& gate_names);
// Every task of `unrun`, named from `engine`'s configuration.
[[nodiscard]] std::vector<JournalEntry> to_journal(const Engine& engine, const std::vector<UnrunTask>& unrun);

// Replaces `path` atomically: writes `<path>.tmp-<pid>` in the same directory, fsyncs it,
// renames it over `path` and fsyncs the directory, so a crash leaves the old journal or
// the new one whole, never a mix. Throws std::system_error naming the path, the step and
// the errno text; the temporary file is removed then.
void write_journal(const std::filesystem::path& path, const std::vector<JournalEntry>& entries);

enum class JournalStatus : std::uint8_t {
  Missing,  // no file: nothing to resubmit (a first start, or a clean stop with nothing left)
  Ok,
  Corrupt,  // cut short or altered: `error` says how; nothing of it is to be trusted
};

struct JournalRead {
  JournalStatus status = JournalStatus::Missing;
  std::vector<JournalEntry> entries;  // empty unless Ok
  std::string error;                  // Corrupt: e.g. "truncated: trailer missing", "line 3: bad field 'priority'"
};

// Reads and checks `path`. An absent file is Missing; a file that cannot be read
// (permissions, I/O) throws std::system_error: that is not a verdict on its content.
[[nodiscard]] JournalRead read_journal(const std::filesystem::path& path);

// Renames a corrupt journal to `<path>.corrupt-<unix seconds>` (with `-N` added when that
// name is taken) and returns the new name, so the next stop can write afresh while the
// evidence is kept. Throws std::system_error when the rename fails.
std::filesystem::path set_aside(const std::filesystem::path& path);

struct ResubmitResult {
  std::size_t submitted = 0;
  std::size_t unknown_type = 0;  // no handler for the type, or the engine has no such type
  std::size_t unknown_gate = 0;  // a gate the engine does not have
  std::size_t refused = 0;       // try_submit said no: `refusals` says why
  std::vector<std::pair<std::size_t, SubmitStatus>> refusals;  // entry index, status
  std::vector<TaskId> ids;                                     // of the submitted ones, in entry order
};

// Submits every entry through `producer` with the callable handler_for(type) gives
// (nullptr: unknown), its priority, context, gates, remaining delay and deadline budget.
// Retries: the policy with max_retries lowered by the attempts already made, so the task
// gets exactly the attempts it had left; an entry with none left (only a hand-edited
// journal has one: the engine journals a task only while it still has an attempt to make)
// still gets one attempt and no retry, since it was never seen to end. The retry schedule
// starts again from its first delay.
ResubmitResult resubmit(Engine& engine, Producer& producer, const std::vector<JournalEntry>& entries,
                        const std::function<const TaskFn*(std::string_view type)>& handler_for);

}  // namespace rt
