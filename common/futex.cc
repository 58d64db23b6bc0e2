#include "common/futex.h"

#include <linux/futex.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <climits>

namespace tensoripc {

static_assert(sizeof(std::atomic<uint32_t>) == sizeof(uint32_t), "futex word is a plain u32");

bool futex_wait(std::atomic<uint32_t>* word, uint32_t expected, int64_t timeout_ns) {
  struct timespec ts {};
  struct timespec* tsp = nullptr;
  if (timeout_ns >= 0) {
    ts.tv_sec = static_cast<time_t>(timeout_ns / 1000000000);
    ts.tv_nsec = static_cast<long>(timeout_ns % 1000000000);
    tsp = &ts;
  }
  const long rc = ::syscall(SYS_futex, reinterpret_cast<uint32_t*>(word), FUTEX_WAIT, expected,
                            tsp, nullptr, 0);
  return !(rc != 0 && errno == ETIMEDOUT);
}

void futex_wake_all(std::atomic<uint32_t>* word) {
  ::syscall(SYS_futex, reinterpret_cast<uint32_t*>(word), FUTEX_WAKE, INT_MAX, nullptr, nullptr, 0);
}

namespace {

// The kernel's struct futex_waitv and flags (include/uapi/linux/futex.h,
// Linux 5.16), spelled here so that the build does not depend on the age of
// the installed kernel headers.
struct WaitvEntry {
  uint64_t val;
  uint64_t uaddr;
  uint32_t flags;
  uint32_t reserved;
};
constexpr uint32_t kFutex2SizeU32 = 0x02;  // shared: no FUTEX2_PRIVATE
#ifdef SYS_futex_waitv
constexpr long kSysFutexWaitv = SYS_futex_waitv;
#else
constexpr long kSysFutexWaitv = 449;  // the same number on every architecture
#endif

}  // namespace

bool futex_wait_any_supported() {
  static const bool supported = [] {
    // No words: a kernel that has the call answers EINVAL; one that lacks it
    // (or a seccomp filter that refuses it) ENOSYS or EPERM.
    const long rc = ::syscall(kSysFutexWaitv, nullptr, 0, 0, nullptr, CLOCK_MONOTONIC);
    return rc == -1 && errno == EINVAL;
  }();
  return supported;
}

int futex_wait_any(const FutexWaitItem* items, size_t count, int64_t deadline_ns) {
  if (!futex_wait_any_supported()) return -3;
  WaitvEntry entries[kFutexWaitAnyMax];
  if (count == 0 || count > kFutexWaitAnyMax) return -2;
  for (size_t i = 0; i < count; ++i) {
    entries[i].val = items[i].expected;
    entries[i].uaddr = reinterpret_cast<uint64_t>(items[i].word);
    entries[i].flags = kFutex2SizeU32;
    entries[i].reserved = 0;
  }
  struct timespec ts {};
  struct timespec* tsp = nullptr;
  if (deadline_ns != INT64_MAX) {
    ts.tv_sec = static_cast<time_t>(deadline_ns / 1000000000);
    ts.tv_nsec = static_cast<long>(deadline_ns % 1000000000);
    tsp = &ts;
  }
  const long rc = ::syscall(kSysFutexWaitv, entries, static_cast<unsigned>(count), 0, tsp,
                            CLOCK_MONOTONIC);
  if (rc >= 0) return static_cast<int>(rc);
  return errno == ETIMEDOUT ? -1 : -2;
}

}  // namespace tensoripc
