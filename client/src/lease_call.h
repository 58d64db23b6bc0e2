// One ProducerSession call with tensor-ipcd, the client's side: the claim and
// the grant. After that the call only holds the lease (nothing is sent per
// frame: the daemon reads frames from the pool); the lease lives exactly as
// long as the call.
#pragma once

#include <grpcpp/grpcpp.h>

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>

#include "common/status.h"
#include "pool/broker.h"
#include "pool/ring.h"
#include "tensoripc/v1/broker.grpc.pb.h"

namespace tensoripc {

// A gRPC callback-API bidi reactor: one write (the claim), a read kept
// pending (the grant, then the end), and the half-close that ends the lease.
//
// Lifetime: after start(), the object must not be destroyed before the
// stream is done (ended() is true); finish() and cancel() get it there.
// finish() starts the half-close from outside gRPC's reactions, which is
// only safe while the stream cannot finish: a hold (AddHold) keeps it open
// until no such call can come.
// Thread-safe.
class LeaseCall final : public grpc::ClientBidiReactor<v1::ProducerMessage, v1::ProducerEvent> {
 public:
  // `on_end` runs on a gRPC thread when the stream ends (it must not
  // destroy the call).
  LeaseCall(v1::Broker::Stub& stub, const Claim& claim, std::function<void()> on_end);
  ~LeaseCall() override;

  void start();

  enum class Outcome { kGranted, kEnded, kTimeout };
  // Waits for the grant (copied to *granted) or the end of the stream. A
  // grant this build cannot read ends the call (final_status says why).
  Outcome wait_granted(std::chrono::milliseconds timeout, Grant* granted);

  // Half-closes and waits up to `grace` for the daemon
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
  // is closed, and no write is in flight. At most once; call under mu_,
  // RemoveHold() after unlocking.
  bool take_hold_locked();

  v1::Broker::Stub& stub_;
  grpc::ClientContext context_;
  std::function<void()> on_end_;

  mutable std::mutex mu_;  // guards everything below
  std::condition_variable cv_;
  v1::ProducerMessage msg_;  // the claim; owned by gRPC while in_flight_
  v1::ProducerEvent event_;  // the one read in flight
  Grant granted_;
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
