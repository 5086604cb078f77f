#pragma once
// A file under the temp folder, unique to the test (mkstemp), removed with the object;
// `absent()` gives a unique path with no file behind it, for "it does not exist" cases.
#include <stdlib.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <system_error>

namespace testing_support {

struct TempFile {
  std::filesystem::path path;
  explicit TempFile(const std::string& tag = "test") {
    std::string tmpl = (std::filesystem::temp_directory_path() / ("rtengine-" + tag + "-XXXXXX")).string();
    const int fd = ::mkstemp(tmpl.data());
    if (fd >= 0) ::close(fd);
    path = tmpl;
  }
  static TempFile absent(const std::string& tag = "absent") {
    TempFile f(tag);
    std::error_code ec;
    std::filesystem::remove(f.path, ec);
    return f;
  }
  TempFile(TempFile&& o) noexcept : path(std::move(o.path)) { o.path.clear(); }
  TempFile(const TempFile&) = delete;
  TempFile& operator=(const TempFile&) = delete;
  TempFile& operator=(TempFile&&) = delete;
  ~TempFile() {
    std::error_code ec;
    if (!path.empty()) std::filesystem::remove(path, ec);
  }
  [[nodiscard]] std::string content() const {
    std::ifstream in(path, std::ios::binary);
    return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
  }
};

}  // namespace testing_support
