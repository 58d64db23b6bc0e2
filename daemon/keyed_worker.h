// One thread that runs posted work in order, at most once per key while it
// waits: work posted for a key already queued is dropped, since the queued
// run will do it (the registry's bulk fan-out: one announce of a pool covers
// every frame written before it runs).
//
// Thread-safe. Work runs with no lock of the worker's held; the destructor
// drops what has not started and waits for what has.
#pragma once

#include <condition_variable>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>
#include <unordered_set>
#include <utility>

#include "common/process.h"

namespace tensoripc::daemon {

class KeyedWorker {
 public:
  // `nice_by`: the thread's nice value is raised by that much.
  explicit KeyedWorker(int nice_by) : thread_([this, nice_by] { run(nice_by); }) {}
  ~KeyedWorker() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      stop_ = true;
    }
    cv_.notify_all();
    thread_.join();
  }
  KeyedWorker(const KeyedWorker&) = delete;
  KeyedWorker& operator=(const KeyedWorker&) = delete;

  void post(const void* key, std::function<void()> work) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (!queued_.insert(key).second) return;
      queue_.emplace_back(key, std::move(work));
    }
    cv_.notify_one();
  }

 private:
  void run(int nice_by) {
    lower_thread_priority(nice_by);
    std::unique_lock<std::mutex> lock(mu_);
    for (;;) {
      cv_.wait(lock, [&] { return stop_ || !queue_.empty(); });
      if (stop_) return;
      auto [key, work] = std::move(queue_.front());
      queue_.pop_front();
      queued_.erase(key);  // posted from here on: queued again
      lock.unlock();
      work();
      work = nullptr;  // what it holds goes here, unlocked
      lock.lock();
    }
  }

  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::pair<const void*, std::function<void()>>> queue_;
  std::unordered_set<const void*> queued_;
  bool stop_ = false;
  std::thread thread_;  // last: it uses the members above
};

}  // namespace tensoripc::daemon
