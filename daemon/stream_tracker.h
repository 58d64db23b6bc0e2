// Counts the streams whose reactors gRPC has not finished with yet, so that
// shutdown can wait for them to end before it closes the connections.
//
// Why: gRPC's graceful Shutdown also waits for idle client connections to
// close, which an idle client notices only at its next backup poll (5 s).
// Once every stream has ended, the daemon stops at once instead.
// Thread-safe.
#pragma once

#include <chrono>
#include <condition_variable>
#include <mutex>

namespace tensoripc::daemon {

class StreamTracker {
 public:
  void add() {
    std::lock_guard<std::mutex> lock(mu_);
    ++live_;
  }

  void remove() {
    std::lock_guard<std::mutex> lock(mu_);
    if (--live_ == 0) idle_.notify_all();
  }

  // True when no stream is live, within `timeout`.
  bool wait_idle(std::chrono::milliseconds timeout) {
    std::unique_lock<std::mutex> lock(mu_);
    return idle_.wait_for(lock, timeout, [this] { return live_ == 0; });
  }

 private:
  std::mutex mu_;
  std::condition_variable idle_;
  long live_ = 0;
};

}  // namespace tensoripc::daemon
