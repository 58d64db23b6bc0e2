// The daemon's ear on its pools: threads that sleep on the pools' futex
// words and say which pool's word moved, so that the registry reads the
// new frames from the pool itself (one hop: the producer's put wakes the
// daemon directly, and no message of the producer's is needed or trusted).
//
// A group of up to 127 pools shares one thread, which waits on all their
// words and a control word of its own with futex_waitv (Linux 5.16). Where
// the kernel (or a seccomp filter) lacks futex_waitv, every pool gets a
// thread of its own on plain FUTEX_WAIT, and the control wake-up is a kick
// of the pool's word (its consumers wake too, see no new frame, and sleep
// again).
//
// The threads run at nice +5 relative to the daemon: behind the producers
// whose puts wake them (see run()).
//
// The producer wakes a pool's word only while the header's futex_waiters is
// raised; the registry keeps it raised while the pool has subscribers, so it
// watches only pools that have some.
//
// Thread-safe. on_wake runs on a watcher thread with no lock of the watcher
// held, so it may take the registry's lock; the registry calls watch and
// unwatch with its own lock held (lock order: registry, then watcher).
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "pool/mapping.h"

namespace tensoripc::daemon {

class FrameWatcher {
 public:
  // Called with the id of a watched pool whose latest_seq moved (and now and
  // then when it did not: a spurious call must be harmless).
  using OnWake = std::function<void(uint64_t id)>;

  enum class Mode {
    kAuto,     // futex_waitv when the kernel has it, else a thread per pool
    kWaitv,    // futex_waitv; refused (treated as kPerPool) without it
    kPerPool,  // a thread per pool on FUTEX_WAIT (kernels before 5.16)
  };

  // `rescan`: how long a thread sleeps at most before it looks at every
  // word again, a safety net against a producer that never wakes the word
  // (a client of another build, or one that lies); <= 0: never.
  explicit FrameWatcher(OnWake on_wake, Mode mode = Mode::kAuto,
                        std::chrono::nanoseconds rescan = std::chrono::seconds(1));
  ~FrameWatcher();
  FrameWatcher(const FrameWatcher&) = delete;
  FrameWatcher& operator=(const FrameWatcher&) = delete;

  // Starts watching `mapping`'s futex word under `id` (unique, never 0).
  void watch(uint64_t id, std::shared_ptr<const PoolMapping> mapping);
  // Stops watching `id`; a no-op for an unknown id. on_wake(id) may still
  // run once after this returns (it was under way).
  void unwatch(uint64_t id);
  // Stops and joins every thread. Idempotent; the destructor calls it.
  void stop();

  bool uses_waitv() const { return capacity_ > 1; }
  size_t threads() const;

 private:
  struct Group;
  void run(Group& group);

  const OnWake on_wake_;
  const std::chrono::nanoseconds rescan_;
  const size_t capacity_;  // pools per thread: 127 with futex_waitv, else 1

  mutable std::mutex mu_;  // guards the members below
  bool stopped_ = false;
  std::vector<std::unique_ptr<Group>> groups_;
  std::map<uint64_t, Group*> where_;  // id -> its group
};

}  // namespace tensoripc::daemon
