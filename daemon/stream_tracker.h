// Counts the streams whose reactors gRPC has not finished with yet, so that
// shutdown can wait for them to end before it closes the connections, and
// admits new ones within the daemon's limits.
//
// Why the count: gRPC's graceful Shutdown also waits for idle client
// connections to close, which an idle client notices only at its next backup
// poll (5 s). Once every stream has ended, the daemon stops at once instead.
// Why the limits: every open stream costs the daemon memory (a reactor, its
// queue, gRPC's buffers: ~20 KB each here), so a runaway or hostile client
// must not be able to open them without bound.
// Thread-safe.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>

#include "common/status.h"

namespace tensoripc::daemon {

// The daemon's stream limits, with their defaults (daemon/config.h reads
// them from flags and the config file).
struct StreamLimits {
  uint32_t max_streams = 4096;          // ProducerSession and Subscribe streams, all users
  uint32_t max_streams_per_uid = 1024;  // ... of one user
  // How long a ProducerSession may stay open without its ClaimPool.
  std::chrono::milliseconds claim_timeout{10000};
  // How long one event may wait to be taken by a subscriber (its write in
  // flight: the subscriber's socket is full because it does not read) before
  // the daemon ends the stream; 0: never.
  std::chrono::milliseconds stall_timeout{60000};
};

class StreamTracker {
 public:
  explicit StreamTracker(StreamLimits limits = {}) : limits_(limits) {}

  const StreamLimits& limits() const { return limits_; }

  // A reactor exists (add) and is done with (remove).
  void add() {
    std::lock_guard<std::mutex> lock(mu_);
    ++live_;
  }

  void remove() {
    std::lock_guard<std::mutex> lock(mu_);
    if (--live_ == 0) idle_.notify_all();
  }

  // Admits one more stream of `uid`, or RESOURCE_EXHAUSTED naming the limit it
  // would pass. Each admitted stream leaves with leave(uid).
  Status admit(uint32_t uid) {
    std::lock_guard<std::mutex> lock(mu_);
    if (admitted_ >= limits_.max_streams) {
      return Status(StatusCode::kResourceExhausted,
                    "tensor-ipcd already serves " + std::to_string(admitted_) +
                        " streams, its limit (--max-streams)");
    }
    uint32_t& mine = per_uid_[uid];
    if (mine >= limits_.max_streams_per_uid) {
      return Status(StatusCode::kResourceExhausted,
                    "uid " + std::to_string(uid) + " already has " + std::to_string(mine) +
                        " streams open, the limit per user (--max-streams-per-uid)");
    }
    ++mine;
    ++admitted_;
    return {};
  }

  void leave(uint32_t uid) {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = per_uid_.find(uid);
    if (it == per_uid_.end() || it->second == 0) return;
    if (--it->second == 0) per_uid_.erase(it);
    --admitted_;
  }

  // Streams admitted and not yet left.
  uint32_t admitted() const {
    std::lock_guard<std::mutex> lock(mu_);
    return admitted_;
  }

  // True when no stream is live, within `timeout`.
  bool wait_idle(std::chrono::milliseconds timeout) {
    std::unique_lock<std::mutex> lock(mu_);
    return idle_.wait_for(lock, timeout, [this] { return live_ == 0; });
  }

 private:
  const StreamLimits limits_;
  mutable std::mutex mu_;
  std::condition_variable idle_;
  long live_ = 0;
  uint32_t admitted_ = 0;
  std::map<uint32_t, uint32_t> per_uid_;  // admitted streams per user
};

}  // namespace tensoripc::daemon
