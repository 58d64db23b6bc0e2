// A session with the daemon kept up on a thread of its own: run it, and when
// it ends run it again after a back-off, until told to stop. The producer's
// lease keeper and the consumer's subscription are both one of these.
#pragma once

#include <chrono>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <thread>

#include "connection.h"

namespace tensoripc {

// Owns the thread. The attempt function runs on it: once at start(), then
// after each back-off (50 ms, doubling up to the maximum; back to 50 ms after
// a session that got going), and only once the channel is connected again.
// stop() ends the loop: no attempt starts after it, the cancel function
// (given to start) ends the one in progress, and the thread is joined.
// Thread-safe; stop() must not be called from the attempt function.
class SessionLoop {
 public:
  enum class Outcome {
    kEnded,   // the session got going, then ended: go again soon
    kFailed,  // it never got going: go again after a longer back-off
    kStop,    // do not go again
  };

  SessionLoop(std::shared_ptr<Connection> connection, std::chrono::milliseconds backoff_max);
  ~SessionLoop();
  SessionLoop(const SessionLoop&) = delete;
  SessionLoop& operator=(const SessionLoop&) = delete;

  // `attempt` runs one session and blocks for as long as it lasts; `cancel`
  // makes the attempt in progress return soon (it may run on any thread,
  // before or during an attempt).
  void start(std::function<Outcome()> attempt, std::function<void()> cancel);
  void stop();

  // Whether stop() was called; attempts check it before they start a call.
  bool stopping() const;
  std::thread::id thread_id() const { return thread_.get_id(); }

 private:
  void run();
  // Waits `delay` unless stopped meanwhile; false when stopped.
  bool pause(std::chrono::milliseconds delay);

  const std::shared_ptr<Connection> connection_;
  const std::chrono::milliseconds backoff_max_;
  std::function<Outcome()> attempt_;
  std::function<void()> cancel_;

  mutable std::mutex mu_;  // guards stopping_
  std::condition_variable cv_;
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace tensoripc
