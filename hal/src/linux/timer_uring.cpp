// io_uring backend: an absolute IORING_OP_TIMEOUT and a read on an eventfd share one
// ring, so each wait is a single io_uring_enter. Periodic series are re-armed here from
// the stored absolute instant (never with the kernel's multishot timeouts, which re-arm
// relative to the expiry and drift).
#include <liburing.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <fstream>
#include <system_error>

#include "hal/timer.hpp"

namespace hal {

namespace {

constexpr std::uint64_t kEventTag = 1;   // the eventfd read
constexpr std::uint64_t kRemoveTag = 2;  // timeout removals; their results do not matter
constexpr std::uint64_t kFirstTimerTag = 16;
constexpr unsigned kRingEntries = 8;  // at most 3 SQEs per wait: read, remove, timeout

class UringTimer final : public Timer {
 public:
  UringTimer() {
    if (int rc = io_uring_queue_init(kRingEntries, &ring_, 0); rc < 0) {
      throw std::system_error(-rc, std::generic_category(), "io_uring_queue_init");
    }
    efd_ = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (efd_ < 0) {
      const int e = errno;
      io_uring_queue_exit(&ring_);
      throw std::system_error(e, std::generic_category(), "eventfd");
    }
  }
  ~UringTimer() override {
    io_uring_queue_exit(&ring_);  // cancels what is in flight
    close(efd_);
  }

  Status arm_at(ns_t t) noexcept override {
    armed_ = true;
    next_ = t;
    period_ = 0;
    dirty_ = true;
    return {};
  }

  Status arm_periodic(ns_t first, ns_t period) noexcept override {
    if (period <= 0) return Status{EINVAL, "io_uring timer period"};
    armed_ = true;
    next_ = first;
    period_ = period;
    dirty_ = true;
    return {};
  }

  Status disarm() noexcept override {
    armed_ = false;
    dirty_ = true;
    return {};
  }

  Status wait(std::uint64_t& expirations) noexcept override {
    expirations = 0;
    bool notified = false;
    while (expirations == 0 && !notified) {
      if (Status s = prepare(); !s.ok()) return s;
      int rc;
      while ((rc = io_uring_submit_and_wait(&ring_, 1)) == -EINTR) {
      }
      if (rc < 0) return Status{-rc, "io_uring_submit_and_wait"};
      io_uring_cqe* cqe = nullptr;
      while (io_uring_peek_cqe(&ring_, &cqe) == 0) {
        complete(io_uring_cqe_get_data64(cqe), cqe->res, expirations, notified);
        io_uring_cqe_seen(&ring_, cqe);
      }
    }
    return {};
  }

  Status notify() noexcept override {
    const std::uint64_t one = 1;
    if (write(efd_, &one, sizeof one) < 0 && errno != EAGAIN) return errno_status("write(eventfd)");
    return {};
  }

  TimerBackend backend() const noexcept override { return TimerBackend::IoUring; }

 private:
  // Queues what the next io_uring_enter must carry. RT: no allocation, no syscall.
  Status prepare() noexcept {
    if (!read_pending_) {
      io_uring_sqe* sqe = io_uring_get_sqe(&ring_);
      if (sqe == nullptr) return Status{EBUSY, "io_uring_get_sqe"};
      io_uring_prep_read(sqe, efd_, &event_value_, sizeof event_value_, 0);
      io_uring_sqe_set_data64(sqe, kEventTag);
      read_pending_ = true;
    }
    if (!dirty_) return {};
    dirty_ = false;
    if (inflight_ != 0) {
      io_uring_sqe* sqe = io_uring_get_sqe(&ring_);
      if (sqe == nullptr) return Status{EBUSY, "io_uring_get_sqe"};
      io_uring_prep_timeout_remove(sqe, inflight_, 0);
      io_uring_sqe_set_data64(sqe, kRemoveTag);
      inflight_ = 0;
    }
    if (armed_) {
      io_uring_sqe* sqe = io_uring_get_sqe(&ring_);
      if (sqe == nullptr) return Status{EBUSY, "io_uring_get_sqe"};
      const ns_t t = next_ > 0 ? next_ : 1;
      ts_.tv_sec = t / kNsPerSec;
      ts_.tv_nsec = t % kNsPerSec;
      io_uring_prep_timeout(sqe, &ts_, 0, IORING_TIMEOUT_ABS);  // CLOCK_MONOTONIC by default
      inflight_ = next_tag_++;
      io_uring_sqe_set_data64(sqe, inflight_);
    }
    return {};
  }

  void complete(std::uint64_t tag, int res, std::uint64_t& expirations, bool& notified) noexcept {
    if (tag == kEventTag) {
      read_pending_ = false;
      notified = true;
      return;
    }
    if (tag != inflight_ || tag < kFirstTimerTag) return;  // a removal, or a superseded timeout
    inflight_ = 0;
    if (res != -ETIME) return;  // cancelled
    if (period_ == 0) {
      armed_ = false;
      expirations += 1;
      return;
    }
    // Count the releases that have passed, as timerfd does, and re-arm on the series.
    const ns_t late = now_ns() - next_;
    const std::uint64_t n = 1 + (late > 0 ? static_cast<std::uint64_t>(late / period_) : 0);
    next_ += static_cast<ns_t>(n) * period_;
    expirations += n;
    dirty_ = true;
  }

  io_uring ring_{};
  int efd_ = -1;
  __kernel_timespec ts_{};
  std::uint64_t event_value_ = 0;
  std::uint64_t inflight_ = 0;  // tag of the timeout in the kernel, 0 if none
  std::uint64_t next_tag_ = kFirstTimerTag;
  ns_t next_ = 0;
  ns_t period_ = 0;
  bool armed_ = false;
  bool dirty_ = false;
  bool read_pending_ = false;
};

int read_io_uring_disabled() {
  std::ifstream in("/proc/sys/kernel/io_uring_disabled");
  int v = 0;
  return (in >> v) ? v : 0;
}

}  // namespace

UringSupport probe_io_uring() {
  UringSupport out;
  io_uring ring{};
  const int rc = io_uring_queue_init(2, &ring, 0);
  if (rc < 0) {
    out.status = Status{-rc, "io_uring_queue_init"};
    switch (-rc) {
      case ENOSYS:
        out.reason = "the kernel (or qemu-user) does not provide io_uring";
        break;
      case EPERM:
        out.reason = "io_uring is refused to this process (kernel.io_uring_disabled = " +
                     std::to_string(read_io_uring_disabled()) + ", or a seccomp filter)";
        break;
      case ENOMEM:
        out.reason = "no memory for a ring (RLIMIT_MEMLOCK too small on kernels before 5.12)";
        break;
      default:
        out.reason = out.status.message();
        break;
    }
    return out;
  }
  io_uring_probe* probe = io_uring_get_probe_ring(&ring);
  if (probe == nullptr) {
    out.status = Status{EOPNOTSUPP, "io_uring_get_probe_ring"};
    out.reason = "the kernel cannot list io_uring opcodes (before 5.6), too old for absolute timeouts";
  } else {
    const bool all = io_uring_opcode_supported(probe, IORING_OP_TIMEOUT) &&
                     io_uring_opcode_supported(probe, IORING_OP_TIMEOUT_REMOVE) &&
                     io_uring_opcode_supported(probe, IORING_OP_READ);
    io_uring_free_probe(probe);
    if (all) {
      out.usable = true;
      out.reason = "io_uring with absolute timeouts";
    } else {
      out.status = Status{EOPNOTSUPP, "io_uring_opcode_supported"};
      out.reason = "the kernel's io_uring lacks TIMEOUT, TIMEOUT_REMOVE or READ";
    }
  }
  io_uring_queue_exit(&ring);
  return out;
}

std::unique_ptr<Timer> make_uring_timer() { return std::make_unique<UringTimer>(); }

}  // namespace hal
