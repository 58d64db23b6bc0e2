#include "lease_call.h"

#include <utility>

#include "common/tsan.h"
#include "proto/wire.h"

namespace tensoripc {

LeaseCall::LeaseCall(v1::Broker::Stub& stub, const Claim& claim, std::function<void()> on_end)
    : stub_(stub), on_end_(std::move(on_end)) {
  wire::to_proto(claim, msg_.mutable_claim());
}

LeaseCall::~LeaseCall() = default;

void LeaseCall::start() {
  stub_.async()->ProducerSession(&context_, this);
  {
    std::lock_guard<std::mutex> lock(mu_);
    in_flight_ = true;  // the claim
    hold_ = true;
  }
  // finish() starts the half-close from a thread of its own; the hold keeps
  // the stream (and gRPC's call object) alive until no such call can come
  // any more (take_hold_locked).
  AddHold();
  StartWrite(&msg_);
  StartRead(&event_);
  tsan_handed_off(this);  // from here on gRPC's threads run the callbacks below
  StartCall();
}

LeaseCall::Outcome LeaseCall::wait_granted(std::chrono::milliseconds timeout, Grant* granted) {
  std::unique_lock<std::mutex> lock(mu_);
  if (!cv_.wait_for(lock, timeout, [&] { return is_granted_ || ended_; })) {
    return Outcome::kTimeout;
  }
  if (!is_granted_) return Outcome::kEnded;
  *granted = granted_;
  return Outcome::kGranted;
}

bool LeaseCall::take_hold_locked() {
  if (hold_ && !in_flight_ && (broken_ || writes_done_started_)) {
    hold_ = false;
    return true;
  }
  return false;
}

void LeaseCall::OnWriteDone(bool ok) {
  TsanReaction reaction(this);
  bool writes_done = false;
  bool release = false;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (!ok) broken_ = true;
    in_flight_ = false;
    if (closing_ && !broken_ && !writes_done_started_) writes_done = writes_done_started_ = true;
    release = take_hold_locked();
  }
  // Inside a reaction, starting the next operation is always safe.
  if (writes_done) StartWritesDone();
  if (release) RemoveHold();
}

void LeaseCall::OnReadDone(bool ok) {
  TsanReaction reaction(this);
  if (!ok) {  // the stream is over (the daemon ended it, or it broke); OnDone follows
    bool release;
    {
      std::lock_guard<std::mutex> lock(mu_);
      broken_ = true;
      release = take_hold_locked();
    }
    if (release) RemoveHold();
    return;
  }
  bool unreadable = false;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (event_.has_granted() && !is_granted_) {
      auto grant = wire::from_proto(event_.granted());
      if (grant.ok()) {
        granted_ = std::move(*grant);
        is_granted_ = true;
        cv_.notify_all();
      } else {
        unreadable_ =
            Status(grant.status().code(), "tensor-ipcd granted a pool this client cannot read: " +
                                              grant.status().message());
        unreadable = true;
      }
    }
  }
  if (unreadable) context_.TryCancel();
  StartRead(&event_);  // keep a read pending: it is how the end is seen
}

void LeaseCall::OnDone(const grpc::Status& status) {
  tsan_taken_over(this);
  // on_end_ first: once ended_ is set the owner may destroy this object.
  if (on_end_) on_end_();
  std::lock_guard<std::mutex> lock(mu_);
  status_ = unreadable_.ok() ? wire::from_grpc(status) : unreadable_;
  ended_ = true;
  cv_.notify_all();
}

void LeaseCall::finish(std::chrono::milliseconds grace) {
  bool writes_done = false;
  bool release = false;
  bool granted;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (ended_) return;
    closing_ = true;
    granted = is_granted_;
    if (granted && !in_flight_ && !broken_ && !writes_done_started_) {
      writes_done = writes_done_started_ = true;
    }
  }
  // Still under the hold: the stream cannot have finished yet.
  if (writes_done) StartWritesDone();
  {
    std::lock_guard<std::mutex> lock(mu_);
    release = take_hold_locked();
  }
  if (release) RemoveHold();
  if (granted) {
    std::unique_lock<std::mutex> lock(mu_);
    if (cv_.wait_for(lock, grace, [&] { return ended_; })) return;
  }
  context_.TryCancel();
  wait_ended();
}

void LeaseCall::cancel() { context_.TryCancel(); }

void LeaseCall::wait_ended() {
  std::unique_lock<std::mutex> lock(mu_);
  cv_.wait(lock, [&] { return ended_; });
}

bool LeaseCall::ended() const {
  std::lock_guard<std::mutex> lock(mu_);
  return ended_;
}

Status LeaseCall::final_status() const {
  std::lock_guard<std::mutex> lock(mu_);
  return status_;
}

}  // namespace tensoripc
