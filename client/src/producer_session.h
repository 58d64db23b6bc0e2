// One ProducerSession stream with tensor-ipcd: the claim, the grant, then a
// publish notice after every put, sent without ever blocking the producer.
#pragma once

#include <grpcpp/grpcpp.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <vector>

#include "ring.h"
#include "tensoripc/v1/broker.grpc.pb.h"

namespace tensoripc {

// A gRPC callback-API bidi reactor with one write in flight and a small
// ring of pending notices (the oldest is dropped when it is full, and
// counted); no allocation per notice. publish() starts a write itself when
// none is in flight, which costs tens of microseconds inside gRPC: it is
// called from the producer's notifier thread, never from put(). The lease
// lives exactly as long as the stream.
//
// Lifetime: after start(), the object must not be destroyed before the
// stream is done (ended() is true); finish() and cancel() get it there.
// publish() and finish() start stream operations from outside gRPC's
// reactions, which is only safe while the stream cannot finish: a hold
// (AddHold) keeps it open until no such call can come.
// Thread-safe.
class ProducerSession final
    : public grpc::ClientBidiReactor<v1::ProducerMessage, v1::ProducerEvent> {
 public:
  // `dropped` counts notices that could not be sent; `on_end` runs on a gRPC
  // thread when the stream ends (it must not destroy the session).
  ProducerSession(v1::Broker::Stub& stub, v1::ClaimPool claim, size_t queue_capacity,
                  std::atomic<uint64_t>* dropped, std::function<void()> on_end);
  ~ProducerSession() override;

  void start();

  enum class Outcome { kGranted, kEnded, kTimeout };
  // Waits for PoolGranted (copied to *granted) or the end of the stream.
  Outcome wait_granted(std::chrono::milliseconds timeout, v1::PoolGranted* granted);

  // Queues a notice for the daemon; never blocks. Dropped (and counted)
  // before the grant, after the stream broke, or when the ring is full.
  void publish(const WrittenFrame& frame);

  // Sends what is queued, half-closes and waits up to `grace` for the daemon
  // to end the stream, then cancels; returns once the stream is done.
  void finish(std::chrono::milliseconds grace);
  // Cancels the stream (the daemon ends the lease at once); does not wait.
  void cancel();
  void wait_ended();

  bool ended() const;
  grpc::Status final_status() const;

 private:
  struct Notice {
    uint64_t seq;
    uint32_t slot;
    int64_t timestamp_ns;
  };

  void OnWriteDone(bool ok) override;
  void OnReadDone(bool ok) override;
  void OnDone(const grpc::Status& status) override;
  // Fills msg_ from a notice; call with in_flight_ held by the caller.
  void fill(const Notice& n);
  // Whether to drop the hold now: once the stream broke or the write side
  // is closed, and no write is in flight (nor about to be started by
  // publish()). At most once; call under mu_, RemoveHold() after unlocking.
  bool take_hold_locked();

  v1::Broker::Stub& stub_;
  grpc::ClientContext context_;
  std::atomic<uint64_t>* dropped_;
  std::function<void()> on_end_;

  mutable std::mutex mu_;
  std::condition_variable cv_;
  v1::ProducerMessage msg_;    // the one write in flight; owned by gRPC while in_flight_
  v1::ProducerEvent event_;    // the one read in flight
  v1::PoolGranted granted_;    // guarded by mu_
  std::vector<Notice> queue_;  // ring, guarded by mu_
  size_t head_ = 0;
  size_t count_ = 0;
  bool in_flight_ = false;
  bool hold_ = false;
  bool is_granted_ = false;
  bool broken_ = false;
  bool closing_ = false;
  bool writes_done_started_ = false;
  bool ended_ = false;
  grpc::Status status_;
};

}  // namespace tensoripc
