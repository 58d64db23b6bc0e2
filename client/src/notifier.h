// The producer's notifier: a thread that turns new frames in the pool into
// publish notices on the lease's call, so that gRPC's cost of starting a
// write lands there and never in put().
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <thread>

#include "common/futex.h"
#include "lease_call.h"
#include "pool/mapping.h"

namespace tensoripc {

// Runs on a thread of its own, started by start() and joined by stop(). The
// writer calls frame_written() after every put, from any thread; the lease
// keeper calls install() after every grant. It sleeps on a futex word of its
// own, which frame_written bumps after the pool's own wake: sharing the
// pool's word would wake it together with (and often ahead of) the futex
// consumers, costing them ~10 us on a 2-core machine.
// Thread-safe. mu_ is never held while calling into the LeaseCall.
class Notifier {
 public:
  // keep_last: notices queued on the call while one is on the wire; beyond
  // it the oldest frames are not announced, and counted in `dropped`.
  Notifier(uint32_t keep_last, std::atomic<uint64_t>* dropped);
  ~Notifier();
  Notifier(const Notifier&) = delete;
  Notifier& operator=(const Notifier&) = delete;

  void start();

  // After each put: wakes the thread if it sleeps; no system call otherwise.
  void frame_written() { futex_signal(word_, sleepers_); }

  // A (re)grant: announce the frames after `from_seq` of `mapping` on `call`
  // (those before were written while the daemon could not be told).
  void install(std::shared_ptr<PoolMapping> mapping, std::shared_ptr<LeaseCall> call,
               uint64_t from_seq);

  // Announces what is left, then stops the thread. Idempotent.
  void stop();

 private:
  void run();
  // Waits until the pool's latest_seq > after, `timeout`, or attention_.
  uint64_t wait_for_put(const PoolMapping& m, uint64_t after, std::chrono::milliseconds timeout);
  // Sends notices for frames (last_sent, latest] still in the ring.
  void announce(const PoolMapping& m, LeaseCall& call, uint64_t last_sent, uint64_t latest);

  const uint64_t keep_last_;
  std::atomic<uint64_t>* const dropped_;

  std::atomic<uint32_t> word_{0};       // the futex word frame_written bumps
  std::atomic<uint32_t> sleepers_{0};   // 1 while the thread sleeps on it
  std::atomic<bool> attention_{false};  // stop, or a new install: look up

  std::mutex mu_;               // guards the members below
  std::condition_variable cv_;  // install or stop, while there is no live call
  std::shared_ptr<PoolMapping> mapping_;
  std::shared_ptr<LeaseCall> call_;
  uint64_t from_seq_ = 0;
  uint64_t installs_ = 0;
  bool stopping_ = false;

  std::thread thread_;
};

}  // namespace tensoripc
