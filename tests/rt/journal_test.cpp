// F30: the journal's format and checks: round trip, every truncation and every changed
// byte is Corrupt, missing, set aside, atomic replacement; resubmit's counts.
#include "rt/journal.hpp"

#include <gtest/gtest.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <stdexcept>
#include <string>
#include <system_error>
#include <vector>

#include "engine_test_support.hpp"
#include "journal_test_support.hpp"

namespace {

namespace fs = std::filesystem;
using rt::JournalEntry;
using rt::JournalStatus;
using testing_support::TempDir;

std::string read_bytes(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

void write_bytes(const fs::path& p, const std::string& bytes) {
  std::ofstream out(p, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

std::vector<JournalEntry> sample_entries() {
  JournalEntry a;
  a.type = "job";
  a.priority = rt::Priority::High;
  a.context.user_id = 0xFFFF'FFFF'FFFF'FFF0ULL;  // above INT64_MAX: kept unsigned
  a.context.session_id = 42;
  for (std::size_t i = 0; i < a.context.params.size(); ++i)
    a.context.params[i] = static_cast<unsigned char>(i * 37 + 1);
  a.retry = {.strategy = rt::RetryStrategy::Exponential,
             .max_retries = 4,
             .initial_delay = 1'500'000,
             .max_delay = 9 * hal::kNsPerSec,
             .multiplier = 1.7,
             .jitter = 0.25};
  a.attempts = 2;
  a.start_in = 3'600 * hal::kNsPerSec - 17;
  a.deadline_in = 250 * hal::kNsPerMs;
  a.gates = {"door", "power"};
  JournalEntry b;
  b.type = "send \"mail\"\n";  // quoting and a newline stay inside the entry's line
  b.priority = rt::Priority::Background;
  JournalEntry c;
  c.type = "task";
  c.priority = rt::Priority::Critical;
  c.context.params[47] = 0xFF;
  return {a, b, c};
}

void expect_same(const JournalEntry& a, const JournalEntry& b) {
  EXPECT_EQ(a.type, b.type);
  EXPECT_EQ(a.priority, b.priority);
  EXPECT_EQ(a.context.user_id, b.context.user_id);
  EXPECT_EQ(a.context.session_id, b.context.session_id);
  EXPECT_EQ(a.context.params, b.context.params);
  EXPECT_EQ(a.retry.strategy, b.retry.strategy);
  EXPECT_EQ(a.retry.max_retries, b.retry.max_retries);
  EXPECT_EQ(a.retry.initial_delay, b.retry.initial_delay);
  EXPECT_EQ(a.retry.max_delay, b.retry.max_delay);
  EXPECT_EQ(a.retry.multiplier, b.retry.multiplier);  // exact: JSON keeps a double's shortest round trip
  EXPECT_EQ(a.retry.jitter, b.retry.jitter);
  EXPECT_EQ(a.attempts, b.attempts);
  EXPECT_EQ(a.start_in, b.start_in);
  EXPECT_EQ(a.deadline_in, b.deadline_in);
  EXPECT_EQ(a.gates, b.gates);
}

// The checksum the journal uses, to forge a file whose only fault is its content.
std::uint64_t fnv1a(const std::string& s) {
  std::uint64_t h = 0xcbf29ce484222325ULL;
  for (const char ch : s) {
    h ^= static_cast<unsigned char>(ch);
    h *= 0x100000001b3ULL;
  }
  return h;
}

std::string with_trailer(const std::string& body, std::size_t count) {
  char sum[17];
  std::snprintf(sum, sizeof sum, "%016llx", static_cast<unsigned long long>(fnv1a(body)));
  return body + "end " + std::to_string(count) + " " + sum + "\n";
}

TEST(Journal, RoundTripKeepsEveryField) {
  TempDir dir;
  const fs::path p = dir.path / "journal";
  const auto entries = sample_entries();
  rt::write_journal(p, entries);
  const rt::JournalRead r = rt::read_journal(p);
  ASSERT_EQ(r.status, JournalStatus::Ok) << r.error;
  ASSERT_EQ(r.entries.size(), entries.size());
  for (std::size_t i = 0; i < entries.size(); ++i)
    expect_same(r.entries[i], entries[i]);
  rt::write_journal(p, {});
  const rt::JournalRead empty = rt::read_journal(p);
  EXPECT_EQ(empty.status, JournalStatus::Ok) << empty.error;
  EXPECT_TRUE(empty.entries.empty());
}

TEST(Journal, MissingFileIsMissingNotAnError) {
  TempDir dir;
  const rt::JournalRead r = rt::read_journal(dir.path / "none");
  EXPECT_EQ(r.status, JournalStatus::Missing);
  EXPECT_TRUE(r.entries.empty());
}

TEST(Journal, TruncationAtEveryByteIsCorrupt) {
  TempDir dir;
  const fs::path p = dir.path / "journal";
  rt::write_journal(p, sample_entries());
  const std::string whole = read_bytes(p);
  ASSERT_GT(whole.size(), 100U);
  const fs::path cut = dir.path / "cut";
  for (std::size_t n = 0; n < whole.size(); ++n) {
    write_bytes(cut, whole.substr(0, n));
    const rt::JournalRead r = rt::read_journal(cut);
    EXPECT_EQ(r.status, JournalStatus::Corrupt) << "cut at " << n << " of " << whole.size();
    EXPECT_FALSE(r.error.empty());
    EXPECT_TRUE(r.entries.empty());
  }
  // Cut just after an entry's line: what is there parses, but the trailer is missing.
  write_bytes(cut, whole.substr(0, whole.rfind("end ")));
  EXPECT_EQ(rt::read_journal(cut).error, "truncated: trailer missing");
}

TEST(Journal, AnyChangedByteIsCorrupt) {
  TempDir dir;
  const fs::path p = dir.path / "journal";
  rt::write_journal(p, sample_entries());
  const std::string whole = read_bytes(p);
  const fs::path bad = dir.path / "bad";
  for (const unsigned flip : {0x01U, 0x80U}) {  // the lowest and the highest bit of each byte
    for (std::size_t i = 0; i < whole.size(); ++i) {
      std::string changed = whole;
      changed[i] = static_cast<char>(static_cast<unsigned>(static_cast<unsigned char>(changed[i])) ^ flip);
      write_bytes(bad, changed);
      const rt::JournalRead r = rt::read_journal(bad);
      EXPECT_EQ(r.status, JournalStatus::Corrupt) << "byte " << i << " ^ " << flip;
    }
  }
  std::string changed = whole;
  changed[whole.find("\"job\"") + 1] = 'x';  // inside an entry: only the checksum can tell
  write_bytes(bad, changed);
  EXPECT_EQ(rt::read_journal(bad).error, "checksum mismatch");
}

TEST(Journal, ContentErrorsNameTheLineAndField) {
  TempDir dir;
  const fs::path p = dir.path / "journal";
  rt::write_journal(p, sample_entries());
  const std::string whole = read_bytes(p);
  std::string body = whole.substr(0, whole.rfind("end "));
  const std::string from = "\"priority\":\"background\"";
  body.replace(body.find(from), from.size(), "\"priority\":\"urgent\"");
  write_bytes(p, with_trailer(body, 3));
  EXPECT_EQ(rt::read_journal(p).error, "line 3: bad field 'priority'");
  write_bytes(p, with_trailer(whole.substr(0, whole.rfind("end ")), 2));
  EXPECT_EQ(rt::read_journal(p).error, "entry count: the trailer says 2, the file holds 3");
  write_bytes(p, with_trailer("rtengine-journal 1\n{\"type\":\"job\"}\n", 1));
  EXPECT_EQ(rt::read_journal(p).error, "line 2: missing field 'priority'");
  write_bytes(p, with_trailer("rtengine-journal 1\nnot json\n", 1));
  EXPECT_TRUE(rt::read_journal(p).error.starts_with("line 2: bad JSON")) << rt::read_journal(p).error;
  write_bytes(p, with_trailer("rtengine-journal 2\n", 0));
  EXPECT_TRUE(rt::read_journal(p).error.starts_with("line 1: not an rtengine journal"));
}

TEST(Journal, SetAsideMovesTheFileAndKeepsIt) {
  TempDir dir;
  const fs::path p = dir.path / "journal";
  write_bytes(p, "rtengine-journal 1\n{\"ty");
  ASSERT_EQ(rt::read_journal(p).status, JournalStatus::Corrupt);
  const fs::path moved = rt::set_aside(p);
  EXPECT_FALSE(fs::exists(p));
  EXPECT_EQ(read_bytes(moved), "rtengine-journal 1\n{\"ty");
  EXPECT_EQ(moved.parent_path(), p.parent_path());
  EXPECT_TRUE(moved.filename().string().starts_with("journal.corrupt-")) << moved;
  EXPECT_EQ(rt::read_journal(p).status, JournalStatus::Missing);
  write_bytes(p, "again");  // a second one within the same second keeps the first
  const fs::path second = rt::set_aside(p);
  EXPECT_NE(second, moved);
  EXPECT_EQ(read_bytes(moved), "rtengine-journal 1\n{\"ty");
  EXPECT_EQ(read_bytes(second), "again");
}

TEST(Journal, WriteReplacesWholeAndLeavesNoTemporaryFile) {
  TempDir dir;
  const fs::path p = dir.path / "journal";
  rt::write_journal(p, sample_entries());
  rt::write_journal(p, {sample_entries()[1]});
  const rt::JournalRead r = rt::read_journal(p);
  ASSERT_EQ(r.status, JournalStatus::Ok) << r.error;
  ASSERT_EQ(r.entries.size(), 1U);
  expect_same(r.entries[0], sample_entries()[1]);
  std::vector<std::string> names;
  for (const auto& f : fs::directory_iterator(dir.path))
    names.push_back(f.path().filename().string());
  EXPECT_EQ(names, std::vector<std::string>{"journal"});
}

TEST(Journal, WriteFailureNamesThePathAndCause) {
  TempDir dir;
  const fs::path p = dir.path / "no" / "such" / "journal";
  try {
    rt::write_journal(p, sample_entries());
    FAIL() << "no exception";
  } catch (const std::system_error& e) {
    EXPECT_NE(std::string(e.what()).find((dir.path / "no" / "such").string()), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("No such file"), std::string::npos) << e.what();
  }
  EXPECT_FALSE(fs::exists(p));
}

TEST(Journal, ResubmitCountsUnknownTypesGatesAndRefusals) {
  rt::EngineConfig cfg = testing_support::small_config();
  cfg.task_types = {"task", "job", "orphan"};
  cfg.gates = {"door"};
  rt::Engine engine(cfg);
  rt::Producer p = engine.make_producer();
  rt::TaskFn fn;
  fn.emplace([](rt::TaskContext&) {});
  auto handler_for = [&](std::string_view t) -> const rt::TaskFn* { return t == "job" ? &fn : nullptr; };
  std::vector<JournalEntry> entries(5);
  entries[0].type = "job";
  entries[1].type = "gone";    // not a type of this engine
  entries[2].type = "orphan";  // a type without a handler
  entries[3].type = "job";
  entries[3].gates = {"window"};
  entries[4].type = "job";
  entries[4].gates = {"door"};
  // Not started: both valid entries are refused as Stopped, and the result says which.
  const rt::ResubmitResult r = rt::resubmit(engine, p, entries, handler_for);
  EXPECT_EQ(r.submitted, 0U);
  EXPECT_EQ(r.unknown_type, 2U);
  EXPECT_EQ(r.unknown_gate, 1U);
  EXPECT_EQ(r.refused, 2U);
  ASSERT_EQ(r.refusals.size(), 2U);
  EXPECT_EQ(r.refusals[0].first, 0U);
  EXPECT_EQ(r.refusals[1].first, 4U);
  EXPECT_EQ(r.refusals[0].second, rt::SubmitStatus::Stopped);
}

}  // namespace
