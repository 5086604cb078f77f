// F30: the journal's file format, its atomic replacement, its checks on reading, and the
// resubmission of what it holds. Setup code: allocates, throws, does file I/O.
#include "rt/journal.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <chrono>
#include <cstdio>
#include <limits>
#include <nlohmann/json.hpp>
#include <stdexcept>
#include <system_error>
#include <type_traits>

namespace rt {
namespace {

using nlohmann::json;

constexpr std::string_view kHeader = "rtengine-journal 1\n";
constexpr std::string_view kTrailer = "end ";

// FNV-1a 64, not a package's CRC or hash: the check is against a crash's truncation and
// against a stray changed byte, not against anyone forging a journal, and FNV-1a is a few
// lines. Each step (xor a byte, multiply by an odd prime mod 2^64) is a bijection of the
// state, so two inputs of one length that differ in one byte never collide.
std::uint64_t fnv1a(std::string_view bytes) noexcept {
  std::uint64_t h = 0xcbf29ce484222325ULL;
  for (const char c : bytes) {
    h ^= static_cast<unsigned char>(c);
    h *= 0x100000001b3ULL;
  }
  return h;
}

std::string hex16(std::uint64_t v) {
  char buf[17];
  std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(v));
  return {buf, 16};
}

std::string hex_bytes(const unsigned char* p, std::size_t n) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string s;
  s.reserve(2 * n);
  for (std::size_t i = 0; i < n; ++i) {
    s.push_back(kDigits[p[i] >> 4]);
    s.push_back(kDigits[p[i] & 0xF]);
  }
  return s;
}

std::system_error io_error(int err, const std::filesystem::path& path, const char* step) {
  return {err, std::generic_category(), "journal " + path.string() + ": " + step};
}

bool parse_priority(std::string_view name, Priority& out) noexcept {
  for (std::size_t k = 0; k < kClassCount; ++k) {
    if (to_string(static_cast<Priority>(k)) == name) {
      out = static_cast<Priority>(k);
      return true;
    }
  }
  return false;
}

json to_json(const JournalEntry& e) {
  return json{{"type", e.type},
              {"priority", std::string(to_string(e.priority))},
              {"user_id", e.context.user_id},
              {"session_id", e.context.session_id},
              {"params", hex_bytes(e.context.params.data(), e.context.params.size())},
              {"retry",
               {{"strategy", std::string(to_string(e.retry.strategy))},
                {"max_retries", e.retry.max_retries},
                {"initial_delay", e.retry.initial_delay},
                {"max_delay", e.retry.max_delay},
                {"multiplier", e.retry.multiplier},
                {"jitter", e.retry.jitter}}},
              {"attempts", e.attempts},
              {"start_in", e.start_in},
              {"deadline_in", e.deadline_in},
              {"gates", e.gates}};
}

// Thrown by the field readers with the name of the field; read_journal adds the line.
struct BadField : std::runtime_error {
  using std::runtime_error::runtime_error;
};

const json& field(const json& o, const char* name) {
  const auto it = o.find(name);
  if (it == o.end()) throw BadField(std::string("missing field '") + name + "'");
  return *it;
}

template <class T>
T number(const json& o, const char* name) {
  const json& v = field(o, name);
  const bool ok = std::is_floating_point_v<T> ? v.is_number()
                  : std::is_signed_v<T>       ? v.is_number_integer()
                                              : v.is_number_unsigned();
  if (!ok) throw BadField(std::string("bad field '") + name + "'");
  if constexpr (std::is_floating_point_v<T>) {
    return v.get<T>();
  } else {
    // get<T>() would narrow silently: an out-of-range number is a bad field.
    using Wide = std::conditional_t<std::is_signed_v<T>, std::int64_t, std::uint64_t>;
    const auto wide = v.get<Wide>();
    if (wide < static_cast<Wide>(std::numeric_limits<T>::min()) ||
        wide > static_cast<Wide>(std::numeric_limits<T>::max()))
      throw BadField(std::string("bad field '") + name + "' (out of range)");
    return static_cast<T>(wide);
  }
}

std::string text(const json& o, const char* name) {
  const json& v = field(o, name);
  if (!v.is_string()) throw BadField(std::string("bad field '") + name + "'");
  return v.get<std::string>();
}

JournalEntry from_json(const json& o) {
  if (!o.is_object()) throw BadField("not an object");
  JournalEntry e;
  e.type = text(o, "type");
  if (!parse_priority(text(o, "priority"), e.priority)) throw BadField("bad field 'priority'");
  e.context.user_id = number<std::uint64_t>(o, "user_id");
  e.context.session_id = number<std::uint64_t>(o, "session_id");
  const std::string params = text(o, "params");
  if (params.size() != 2 * e.context.params.size()) throw BadField("bad field 'params'");
  for (std::size_t i = 0; i < e.context.params.size(); ++i) {
    unsigned v = 0;
    const char* p = params.data() + 2 * i;
    const auto [end, ec] = std::from_chars(p, p + 2, v, 16);
    if (ec != std::errc{} || end != p + 2) throw BadField("bad field 'params'");
    e.context.params[i] = static_cast<unsigned char>(v);
  }
  const json& r = field(o, "retry");
  if (!r.is_object()) throw BadField("bad field 'retry'");
  if (!parse_retry_strategy(text(r, "strategy"), e.retry.strategy)) throw BadField("bad field 'strategy'");
  e.retry.max_retries = number<std::uint32_t>(r, "max_retries");
  e.retry.initial_delay = number<ns_t>(r, "initial_delay");
  e.retry.max_delay = number<ns_t>(r, "max_delay");
  e.retry.multiplier = number<double>(r, "multiplier");
  e.retry.jitter = number<double>(r, "jitter");
  e.attempts = number<std::uint32_t>(o, "attempts");
  e.start_in = number<ns_t>(o, "start_in");
  e.deadline_in = number<ns_t>(o, "deadline_in");
  if (e.start_in < 0) throw BadField("bad field 'start_in'");
  if (e.deadline_in < 0) throw BadField("bad field 'deadline_in'");
  const json& g = field(o, "gates");
  if (!g.is_array()) throw BadField("bad field 'gates'");
  for (const json& name : g) {
    if (!name.is_string()) throw BadField("bad field 'gates'");
    e.gates.push_back(name.get<std::string>());
  }
  return e;
}

JournalRead corrupt(std::string why) { return {JournalStatus::Corrupt, {}, std::move(why)}; }

// The trailer `end <count> <16 hex>`; false when `line` is not exactly that.
bool parse_trailer(std::string_view line, std::size_t& count, std::string_view& sum) {
  if (!line.starts_with(kTrailer)) return false;
  line.remove_prefix(kTrailer.size());
  const auto space = line.find(' ');
  if (space == std::string_view::npos || space == 0) return false;
  const std::string_view digits = line.substr(0, space);
  if (digits.size() > 1 && digits[0] == '0') return false;  // one spelling per count
  const auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), count);
  if (ec != std::errc{} || end != digits.data() + digits.size()) return false;
  sum = line.substr(space + 1);
  return sum.size() == 16 &&
         std::all_of(sum.begin(), sum.end(), [](char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); });
}

}  // namespace

JournalEntry to_journal_entry(const UnrunTask& t, const std::vector<std::string>& type_names,
                              const std::vector<std::string>& gate_names) {
  JournalEntry e;
  e.type = type_names.at(t.type);
  e.priority = t.priority;
  e.context = t.context;
  e.retry = t.retry;
  e.attempts = t.attempts;
  e.start_in = std::max<ns_t>(t.start_in, 0);
  e.deadline_in = std::max<ns_t>(t.deadline_in, 0);
  for (std::size_t g = 0; g < 64; ++g) {
    if ((t.gates >> g & 1U) != 0) e.gates.push_back(gate_names.at(g));
  }
  return e;
}

std::vector<JournalEntry> to_journal(const Engine& engine, const std::vector<UnrunTask>& unrun) {
  std::vector<JournalEntry> out;
  out.reserve(unrun.size());
  for (const UnrunTask& t : unrun)
    out.push_back(to_journal_entry(t, engine.config().task_types, engine.config().gates));
  return out;
}

void write_journal(const std::filesystem::path& path, const std::vector<JournalEntry>& entries) {
  std::string body(kHeader);
  for (const JournalEntry& e : entries) {
    body += to_json(e).dump();  // ASCII-escaped is not needed: dump() never emits a raw newline
    body += '\n';
  }
  const std::string all =
      body + std::string(kTrailer) + std::to_string(entries.size()) + ' ' + hex16(fnv1a(body)) + '\n';

  // Same directory: rename(2) is atomic only within one file system.
  const std::filesystem::path tmp = path.string() + ".tmp-" + std::to_string(::getpid());
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) throw io_error(errno, tmp, "open");
  auto fail = [&](const char* step) {
    const int err = errno;
    ::close(fd);
    ::unlink(tmp.c_str());
    return io_error(err, tmp, step);
  };
  for (std::size_t done = 0; done < all.size();) {
    const ssize_t n = ::write(fd, all.data() + done, all.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) throw fail("write");
    done += static_cast<std::size_t>(n);
  }
  // The data is on disk before the name points at it (ext4 data=ordered and others do not
  // promise that for a rename over an existing file).
  if (::fsync(fd) != 0) throw fail("fsync");
  if (::close(fd) != 0) {
    const int err = errno;
    ::unlink(tmp.c_str());
    throw io_error(err, tmp, "close");
  }
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    const int err = errno;
    ::unlink(tmp.c_str());
    throw io_error(err, path, "rename");
  }
  // The rename itself is durable only once the directory is (fsync(2)).
  const std::filesystem::path dir = path.has_parent_path() ? path.parent_path() : std::filesystem::path(".");
  const int dfd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd < 0) throw io_error(errno, dir, "open directory");
  if (::fsync(dfd) != 0) {
    const int err = errno;
    ::close(dfd);
    throw io_error(err, dir, "fsync directory");
  }
  ::close(dfd);
}

JournalRead read_journal(const std::filesystem::path& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    if (errno == ENOENT) return {};
    throw io_error(errno, path, "open");
  }
  std::string data;
  char buf[65536];
  for (;;) {
    const ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      const int err = errno;
      ::close(fd);
      throw io_error(err, path, "read");
    }
    if (n == 0) break;
    data.append(buf, static_cast<std::size_t>(n));
  }
  ::close(fd);

  const std::string_view all(data);
  if (all.empty()) return corrupt("truncated: empty file");
  if (!all.starts_with(kHeader)) {
    if (kHeader.starts_with(all)) return corrupt("truncated: header incomplete");
    return corrupt("line 1: not an rtengine journal (header '" + std::string(kHeader.substr(0, kHeader.size() - 1)) +
                   "' expected)");
  }
  // Every line ends with '\n', the trailer's too: a file cut inside the trailer, or just
  // before its newline, has no complete trailer.
  if (all.back() != '\n') return corrupt("truncated: trailer missing (the last line is incomplete)");
  const std::string_view body_and_trailer = all.substr(0, all.size() - 1);
  const auto last_nl = body_and_trailer.rfind('\n');  // the header's at least
  const std::string_view trailer = body_and_trailer.substr(last_nl + 1);
  const std::string_view body = all.substr(0, last_nl + 1);
  std::size_t count = 0;
  std::string_view sum;
  if (!parse_trailer(trailer, count, sum)) {
    if (trailer.starts_with(kTrailer)) return corrupt("bad trailer: '" + std::string(trailer) + "'");
    return corrupt("truncated: trailer missing");
  }
  if (hex16(fnv1a(body)) != sum) return corrupt("checksum mismatch");

  JournalRead r;
  r.status = JournalStatus::Ok;
  std::size_t line_no = 1;
  for (std::size_t at = kHeader.size(); at < body.size();) {
    const std::size_t nl = body.find('\n', at);
    const std::string_view line = body.substr(at, nl - at);
    at = nl + 1;
    ++line_no;
    try {
      r.entries.push_back(from_json(json::parse(line)));
    } catch (const json::exception& e) {
      return corrupt("line " + std::to_string(line_no) + ": bad JSON (" + e.what() + ")");
    } catch (const BadField& e) {
      return corrupt("line " + std::to_string(line_no) + ": " + e.what());
    }
  }
  if (r.entries.size() != count) {
    return corrupt("entry count: the trailer says " + std::to_string(count) + ", the file holds " +
                   std::to_string(r.entries.size()));
  }
  return r;
}

std::filesystem::path set_aside(const std::filesystem::path& path) {
  const auto secs =
      std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
  const std::string base = path.string() + ".corrupt-" + std::to_string(secs);
  std::filesystem::path to = base;
  // Two corrupt journals in one second (a crash loop) must not overwrite each other's evidence.
  for (int n = 1; std::filesystem::exists(to); ++n)
    to = base + "-" + std::to_string(n);
  if (::rename(path.c_str(), to.c_str()) != 0) throw io_error(errno, path, "rename to set aside");
  return to;
}

ResubmitResult resubmit(Engine& engine, Producer& producer, const std::vector<JournalEntry>& entries,
                        const std::function<const TaskFn*(std::string_view type)>& handler_for) {
  ResubmitResult r;
  for (std::size_t i = 0; i < entries.size(); ++i) {
    const JournalEntry& e = entries[i];
    const int type = engine.type_index(e.type);
    const TaskFn* fn = handler_for ? handler_for(e.type) : nullptr;
    if (type < 0 || fn == nullptr || !*fn) {
      ++r.unknown_type;
      continue;
    }
    SubmitOptions o;
    o.type = static_cast<TypeId>(type);
    o.priority = e.priority;
    o.context = e.context;
    o.start_in = e.start_in;
    o.deadline_in = e.deadline_in;
    bool gates_ok = true;
    for (const std::string& g : e.gates) {
      const int gi = engine.gate_index(g);
      if (gi < 0) {
        gates_ok = false;
        break;
      }
      o.gates |= GateMask{1} << gi;
    }
    if (!gates_ok) {
      ++r.unknown_gate;
      continue;
    }
    o.retry = e.retry;
    o.retry.max_retries = e.attempts < e.retry.max_retries ? e.retry.max_retries - e.attempts : 0;
    if (o.retry.max_retries == 0) o.retry = RetryPolicy{};  // none left: one attempt, no policy to check
    TaskId id;
    const SubmitStatus st = producer.try_submit_stored(*fn, o, &id);
    if (st == SubmitStatus::Ok) {
      ++r.submitted;
      r.ids.push_back(id);
    } else {
      ++r.refused;
      r.refusals.emplace_back(i, st);
    }
  }
  return r;
}

}  // namespace rt
