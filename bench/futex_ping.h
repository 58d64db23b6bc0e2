// The raw cross-process futex ping, the yardstick of the futex notification
// path: a word in a shared-memory segment of our own, bumped and woken
// (FUTEX_WAKE, always) by the pinger, waited on (FUTEX_WAIT) by each waiter
// process. No library code: this is the floor the futex path stands on.
#pragma once

#include <atomic>
#include <cstdint>
#include <string>

#include "common/shm.h"

namespace tensoripc::bench {

// The shared page. Written by the pinger only.
struct PingPage {
  std::atomic<uint32_t> word{0};    // the futex word
  std::atomic<uint32_t> stop{0};    // 1: waiters leave
  std::atomic<uint64_t> seq{0};     // the ping's number, from 1
  std::atomic<int64_t> sent_ns{0};  // CLOCK_REALTIME when it was sent
};

// Creates (and on destruction removes) the segment "/tipcbench<pid>.ping".
// Not thread-safe; the pinger is one thread.
class Pinger {
 public:
  Pinger();
  ~Pinger();
  Pinger(const Pinger&) = delete;
  Pinger& operator=(const Pinger&) = delete;

  const std::string& name() const { return name_; }
  // Stamps, bumps the word and wakes every waiter.
  void ping(uint64_t seq);
  // Tells the waiters to leave.
  void stop();

 private:
  std::string name_;
  Mapping mapping_;
  PingPage* page_ = nullptr;
};

// The waiter, in a child process: prints "ready", records wake-up minus
// sent_ns for pings past `warmup` until told to stop, then writes the
// samples to `out`. Returns an exit status.
int run_ping_waiter(const std::string& shm_name, uint64_t warmup, const std::string& out);

}  // namespace tensoripc::bench
