// A Subscribe stream kept up on its own thread: re-subscribed with back-off
// when the daemon goes away (restart), until stopped.
#pragma once

#include <grpcpp/grpcpp.h>

#include <chrono>
#include <memory>
#include <mutex>

#include "common/status.h"
#include "connection.h"
#include "pool/broker.h"
#include "session_loop.h"

namespace tensoripc {

// What a subscription asks for.
struct SubscribeRequest {
  std::string name;
  uint32_t keep_last = 0;  // 0: the default
  int32_t pid = 0;
  bool lifecycle_only = false;  // no frame events (a futex-path consumer)
};

// Owns the thread (a SessionLoop) and the stream; calls its handler on that
// thread. stop() (or the destructor) cancels the stream and joins; it must
// not be called from the handler. Thread-safe.
class Subscription {
 public:
  class Handler {
   public:
    virtual ~Handler() = default;
    virtual void on_event(const StreamEvent& event) = 0;
    // The stream ended (or an event could not be read); return whether to
    // subscribe again.
    virtual bool on_stream_end(const Status& status) = 0;
  };

  Subscription(std::shared_ptr<Connection> connection, SubscribeRequest request, Handler* handler,
               std::chrono::milliseconds backoff_max);
  ~Subscription();

  void stop();
  std::thread::id thread_id() const { return loop_.thread_id(); }

 private:
  SessionLoop::Outcome run_once();
  void cancel();

  const std::shared_ptr<Connection> connection_;
  const SubscribeRequest request_;
  Handler* const handler_;

  std::mutex mu_;                             // guards ctx_
  std::unique_ptr<grpc::ClientContext> ctx_;  // the stream in progress
  SessionLoop loop_;                          // last: its thread uses the members above
};

}  // namespace tensoripc
