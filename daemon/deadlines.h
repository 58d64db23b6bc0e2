// One thread that calls expire() on objects whose deadline passed, unless
// they are gone by then (held by weak_ptr): the daemon's timers for streams,
// e.g. a ProducerSession that never sends its ClaimPool.
//
// Thread-safe. expire() runs on the deadlines' thread with no lock of theirs
// held; it must not block.
#pragma once

#include <chrono>
#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <thread>

namespace tensoripc::daemon {

class Expiring {
 public:
  virtual ~Expiring() = default;
  virtual void expire() = 0;
};

class Deadlines {
 public:
  using Clock = std::chrono::steady_clock;

  Deadlines() : thread_([this] { run(); }) {}
  ~Deadlines() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      stopping_ = true;
    }
    cv_.notify_all();
    thread_.join();
  }
  Deadlines(const Deadlines&) = delete;
  Deadlines& operator=(const Deadlines&) = delete;

  void schedule(Clock::time_point when, std::weak_ptr<Expiring> what) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      due_.emplace(when, std::move(what));
    }
    cv_.notify_all();
  }

 private:
  void run() {
    std::unique_lock<std::mutex> lock(mu_);
    while (!stopping_) {
      if (due_.empty()) {
        cv_.wait(lock);
        continue;
      }
      const auto next = due_.begin()->first;
      if (Clock::now() < next) {
        cv_.wait_until(lock, next);
        continue;
      }
      std::weak_ptr<Expiring> what = std::move(due_.begin()->second);
      due_.erase(due_.begin());
      lock.unlock();
      if (auto alive = what.lock()) alive->expire();
      lock.lock();
    }
  }

  std::mutex mu_;
  std::condition_variable cv_;
  std::multimap<Clock::time_point, std::weak_ptr<Expiring>> due_;
  bool stopping_ = false;
  std::thread thread_;  // last: it uses the members above
};

}  // namespace tensoripc::daemon
