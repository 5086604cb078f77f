#include "rt/arena.hpp"

#include <sys/mman.h>

#include <cstring>
#include <stdexcept>
#include <system_error>

#include "hal/memory.hpp"
#include "hal/report.hpp"

namespace rt {

Arena::Arena(std::size_t bytes, bool lock) {
  const std::size_t page = hal::page_size();
  size_ = (bytes + page - 1) / page * page;
  if (size_ == 0) size_ = page;
  void* p = mmap(nullptr, size_, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED) {
    throw std::system_error(errno, std::generic_category(),
                            "mmap of the engine arena (" + std::to_string(size_) + " bytes)");
  }
  base_ = static_cast<unsigned char*>(p);
  if (lock) {
    if (mlock(base_, size_) == 0) {
      locked_ = true;
    } else {
      const hal::Status s = hal::errno_status("mlock");
      hal::report_once("arena-mlock", "cannot lock the engine arena (" + s.message() +
                                          "); its pages may be swapped out. See `rtengine doctor` (memlock).");
    }
  }
  // Written once, even when locked: mlock faults pages in, but only as shared zero
  // pages for reads on some kernels; a write makes each page private and resident.
  std::memset(base_, 0, size_);
}

Arena::~Arena() {
  if (base_ != nullptr) munmap(base_, size_);
}

void* Arena::try_allocate(std::size_t n, std::size_t align) noexcept {
  const std::size_t start = (used_ + align - 1) & ~(align - 1);
  if (start > size_ || n > size_ - start) return nullptr;
  used_ = start + n;
  return base_ + start;
}

void Arena::throw_exhausted(std::size_t wanted, const char* what) const {
  throw std::length_error("engine arena exhausted: " + std::string(what) + " needs " + std::to_string(wanted) +
                          " bytes, " + std::to_string(size_ - used_) + " of " + std::to_string(size_) +
                          " are left; raise EngineConfig::arena_bytes");
}

}  // namespace rt
