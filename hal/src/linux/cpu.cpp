#include "hal/cpu.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <fstream>
#include <stdexcept>

namespace hal {

namespace {

int to_int(std::string_view tok, std::string_view whole) {
  int v = -1;
  auto [p, ec] = std::from_chars(tok.data(), tok.data() + tok.size(), v);
  if (ec != std::errc{} || p != tok.data() + tok.size() || v < 0) {
    throw std::invalid_argument("bad CPU list '" + std::string(whole) + "': '" + std::string(tok) +
                                "' is not a CPU number");
  }
  return v;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t' || s.front() == '\n'))
    s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\n' || s.back() == '\r'))
    s.remove_suffix(1);
  return s;
}

// isolcpus= on the command line accepts flags before the list ("isolcpus=domain,managed_irq,2-3").
std::vector<int> cmdline_cpus(const std::string& cmdline, std::string_view key) {
  std::vector<int> out;
  std::size_t pos = 0;
  while ((pos = cmdline.find(key, pos)) != std::string::npos) {
    if (pos != 0 && cmdline[pos - 1] != ' ') {
      pos += key.size();
      continue;
    }
    const std::size_t start = pos + key.size();
    const std::size_t end = cmdline.find(' ', start);
    std::string value = cmdline.substr(start, end == std::string::npos ? std::string::npos : end - start);
    std::string list;
    std::size_t from = 0;
    while (from <= value.size()) {
      std::size_t comma = value.find(',', from);
      std::string tok = value.substr(from, comma == std::string::npos ? std::string::npos : comma - from);
      if (!tok.empty() && (std::isdigit(static_cast<unsigned char>(tok[0])) != 0))
        list += (list.empty() ? "" : ",") + tok;
      if (comma == std::string::npos) break;
      from = comma + 1;
    }
    try {
      auto cpus = parse_cpu_list(list);
      out.insert(out.end(), cpus.begin(), cpus.end());
    } catch (const std::invalid_argument&) {
      // A malformed command line is the kernel's business; report no isolation.
    }
    pos = start;
  }
  return out;
}

}  // namespace

std::vector<int> parse_cpu_list(std::string_view text) {
  std::vector<int> out;
  const std::string_view whole = trim(text);
  if (whole.empty() || whole == "(null)") return out;
  std::string_view rest = whole;
  while (!rest.empty()) {
    const std::size_t comma = rest.find(',');
    std::string_view tok = trim(rest.substr(0, comma));
    rest = comma == std::string_view::npos ? std::string_view{} : rest.substr(comma + 1);
    if (tok.empty()) throw std::invalid_argument("bad CPU list '" + std::string(whole) + "': empty entry");
    const std::size_t dash = tok.find('-');
    if (dash == std::string_view::npos) {
      out.push_back(to_int(tok, whole));
      continue;
    }
    const int lo = to_int(tok.substr(0, dash), whole);
    const int hi = to_int(tok.substr(dash + 1), whole);
    if (hi < lo)
      throw std::invalid_argument("bad CPU list '" + std::string(whole) + "': range '" + std::string(tok) +
                                  "' runs backwards");
    for (int c = lo; c <= hi; ++c)
      out.push_back(c);
  }
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

std::string format_cpu_list(const std::vector<int>& cpus) {
  std::string out;
  for (std::size_t i = 0; i < cpus.size();) {
    std::size_t j = i;
    while (j + 1 < cpus.size() && cpus[j + 1] == cpus[j] + 1)
      ++j;
    if (!out.empty()) out += ',';
    out += std::to_string(cpus[i]);
    if (j > i) out += '-' + std::to_string(cpus[j]);
    i = j + 1;
  }
  return out;
}

std::optional<std::string> read_first_line(const std::filesystem::path& root, std::string_view rel) {
  std::ifstream in(root / std::filesystem::path(rel).relative_path());
  std::string line;
  if (!in || !std::getline(in, line)) {
    // An existing but empty file (e.g. sysfs "isolated" with no CPUs) reads as "".
    if (in.eof() && !in.bad()) return std::string{};
    return std::nullopt;
  }
  return std::string(trim(line));
}

CpuInfo read_cpu_info(const std::filesystem::path& root) {
  CpuInfo info;
  auto list = [&](std::string_view rel) {
    try {
      if (auto l = read_first_line(root, rel)) return parse_cpu_list(*l);
    } catch (const std::invalid_argument&) {
    }
    return std::vector<int>{};
  };
  info.online = list("sys/devices/system/cpu/online");
  info.isolated = list("sys/devices/system/cpu/isolated");
  info.nohz_full = list("sys/devices/system/cpu/nohz_full");
  if (auto cmd = read_first_line(root, "proc/cmdline")) {
    if (info.isolated.empty()) info.isolated = cmdline_cpus(*cmd, "isolcpus=");
    if (info.nohz_full.empty()) info.nohz_full = cmdline_cpus(*cmd, "nohz_full=");
  }
  for (int cpu : info.online) {
    const std::string rel = "sys/devices/system/cpu/cpu" + std::to_string(cpu) + "/cpufreq/scaling_governor";
    if (auto g = read_first_line(root, rel)) info.governors.emplace_back(cpu, *g);
  }
  if (auto smt = read_first_line(root, "sys/devices/system/cpu/smt/active")) info.smt_active = *smt == "1" ? 1 : 0;
  if (auto cs = read_first_line(root, "sys/devices/system/clocksource/clocksource0/current_clocksource"))
    info.clocksource = *cs;
  return info;
}

DmaLatencyRequest& DmaLatencyRequest::operator=(DmaLatencyRequest&& o) noexcept {
  if (this != &o) {
    if (fd_ >= 0) close(fd_);
    fd_ = std::exchange(o.fd_, -1);
  }
  return *this;
}

DmaLatencyRequest::~DmaLatencyRequest() {
  if (fd_ >= 0) close(fd_);
}

Status DmaLatencyRequest::request(std::int32_t max_latency_us, const std::filesystem::path& device) noexcept {
  const int fd = open(device.c_str(), O_WRONLY | O_CLOEXEC);
  if (fd < 0) return errno_status("open(cpu_dma_latency)");
  // The device takes a binary s32; the request holds while the fd stays open.
  if (write(fd, &max_latency_us, sizeof max_latency_us) != static_cast<ssize_t>(sizeof max_latency_us)) {
    const Status s = errno_status("write(cpu_dma_latency)");
    close(fd);
    return s;
  }
  if (fd_ >= 0) close(fd_);
  fd_ = fd;
  return {};
}

}  // namespace hal
