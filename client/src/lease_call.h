// One ProducerSession call with tensor-ipcd, the client's side: the claim,
// the grant, then a publish notice after every put, sent without ever
// blocking the producer. The lease lives exactly as long as the call.
#pragma once

#include <grpcpp/grpcpp.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <vector>

#include "common/status.h"
#include "pool/broker.h"
#include "pool/ring.h"
#include "tensoripc/v1/broker.grpc.pb.h"

namespace tensoripc {

// A gRPC callback-API bidi reactor with one write in flight and a small
// ring of pending notices (the oldest is dropped when it is full, and
// counted); no allocation per notice. publish() starts a write itself when
// none is in flight, which costs tens of microseconds inside gRPC: it is
// called from the producer's notifier thread, never from put().
//
// Lifetime: after start(), the object must not be destroyed before the
// stream is done (ended() is true); finish() and cancel() get it there.
// publish() and finish() start stream operations from outside gRPC's
// reactions, which is only safe while the stream cannot finish: a hold
// (AddHold) keeps it open until no such call can come.
// Thread-safe.
class LeaseCall final : public grpc::ClientBidiReactor<v1::ProducerMessage, v1::ProducerEvent> {
 public:
  // `dropped` counts notices that could not be sent; `on_end` runs on a gRPC
  // thread when the stream ends (it must not destroy the call).
  LeaseCall(v1::Broker::Stub& stub, const Claim& claim, size_t queue_capacity,
            std::atomic<uint64_t>* dropped, std::function<void()> on_end);
  ~LeaseCall() override;

  void start();

  enum class Outcome { kGranted, kEnded, kTimeout };
  // Waits for the grant (copied to *granted) or the end of the stream. A
  // grant this build cannot read ends the call (final_status says why).
  Outcome wait_granted(std::chrono::milliseconds timeout, Grant* granted);

  // Queues a notice for the daemon; never blocks. Dropped (and counted)
  // before the grant, after the stream broke, or when the ring is full.
  void publish(const FrameStamp& frame);

  // Sends what is queued, half-closes and waits up to `grace` for the daemon
  // to end the stream, then cancels; returns once the stream is done.
  void finish(std::chrono::milliseconds grace);
  // Cancels the stream (the daemon ends the lease at once); does not wait.
  void cancel();
  void wait_ended();

  bool ended() const;
  // How the stream ended (the daemon's status, with its details).
  Status final_status() const;

 private:
  void OnWriteDone(bool ok) override;
  void OnReadDone(bool ok) override;
  void OnDone(const grpc::Status& status) override;
  // Whether to drop the hold now: once the stream broke or the write side
  // is closed, and no write is in flight (nor about to be started by
  // publish()). At most once; call under mu_, RemoveHold() after unlocking.
  bool take_hold_locked();

  v1::Broker::Stub& stub_;
  grpc::ClientContext context_;
  std::atomic<uint64_t>* dropped_;
  std::function<void()> on_end_;

  mutable std::mutex mu_;  // guards everything below
  std::condition_variable cv_;
  v1::ProducerMessage msg_;  // the one write in flight; owned by gRPC while in_flight_
  v1::ProducerEvent event_;  // the one read in flight
  Grant granted_;
  std::vector<FrameStamp> queue_;  // ring
  size_t head_ = 0;
  size_t count_ = 0;
  bool in_flight_ = false;
  bool hold_ = false;
  bool is_granted_ = false;
  bool broken_ = false;
  bool closing_ = false;
  bool writes_done_started_ = false;
  bool ended_ = false;
  Status unreadable_;  // a grant this build could not read
  Status status_;
};

}  // namespace tensoripc
