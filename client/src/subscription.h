// A Subscribe stream on its own thread, re-subscribed with back-off when the
// daemon goes away (restart), until stopped.
#pragma once

#include <grpcpp/grpcpp.h>

#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <thread>

#include "connection.h"
#include "tensoripc/v1/broker.grpc.pb.h"

namespace tensoripc {

// Owns the thread and the stream; calls its handler on that thread.
// stop() (or the destructor) cancels the stream and joins; it must not be
// called from the handler. Thread-safe.
class Subscription {
 public:
  class Handler {
   public:
    virtual ~Handler() = default;
    virtual void on_event(const v1::SubscribeEvent& event) = 0;
    // The stream ended; return whether to subscribe again.
    virtual bool on_stream_end(const grpc::Status& status) = 0;
  };

  Subscription(std::shared_ptr<Connection> connection, v1::SubscribeRequest request,
               Handler* handler, std::chrono::milliseconds backoff_max);
  ~Subscription();

  void stop();
  std::thread::id thread_id() const { return thread_.get_id(); }

 private:
  void run();

  std::shared_ptr<Connection> connection_;
  const v1::SubscribeRequest request_;
  Handler* handler_;
  const std::chrono::milliseconds backoff_max_;

  std::mutex mu_;
  std::condition_variable cv_;
  bool stopping_ = false;                     // guarded by mu_
  std::unique_ptr<grpc::ClientContext> ctx_;  // guarded by mu_
  std::thread thread_;
};

}  // namespace tensoripc
