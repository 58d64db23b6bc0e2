#include "daemon/producer_stream.h"

#include <spdlog/spdlog.h>

#include <mutex>
#include <optional>
#include <utility>

#include "common/tsan.h"
#include "proto/wire.h"

namespace tensoripc::daemon {
namespace {

using Reactor = grpc::ServerBidiReactor<v1::ProducerMessage, v1::ProducerEvent>;

// The part of a session the registry may reach (as the LeaseHolder), and the
// one place that drives the reactor's operations. Its mutex makes Finish
// happen exactly once, never while the grant is being written, and never
// after OnDone (detach). Owned jointly by the reactor and, while the lease
// lasts, the registry.
class SessionControl final : public LeaseHolder, public Expiring {
 public:
  SessionControl(Reactor* reactor, std::chrono::milliseconds claim_timeout)
      : reactor_(reactor), claim_timeout_(claim_timeout) {}

  void revoke(const Status& why) override { finish(wire::to_grpc(why)); }

  // The ClaimPool came (in time or not): the deadline no longer applies.
  void claim_arrived() {
    std::lock_guard<std::mutex> lock(mu_);
    claim_arrived_ = true;
  }

  // Expiring: the claim deadline passed.
  void expire() override {
    std::lock_guard<std::mutex> lock(mu_);
    if (claim_arrived_ || finish_wanted_) return;
    spdlog::debug("producer stream {}: no ClaimPool within {} ms; ended",
                  static_cast<void*>(reactor_), claim_timeout_.count());
    finish_locked(grpc::Status(grpc::StatusCode::DEADLINE_EXCEEDED,
                               "no ClaimPool within " + std::to_string(claim_timeout_.count()) +
                                   " ms of opening the ProducerSession (--claim-timeout-ms)"));
  }

  void start_read(v1::ProducerMessage* into) {
    std::lock_guard<std::mutex> lock(mu_);
    if (!finish_wanted_) reactor_->StartRead(into);
  }

  void write(v1::ProducerEvent event) {
    std::lock_guard<std::mutex> lock(mu_);
    if (finish_wanted_) return;
    out_ = std::move(event);
    writing_ = true;
    reactor_->StartWrite(&out_);
  }

  void write_done() {
    std::lock_guard<std::mutex> lock(mu_);
    writing_ = false;
    if (finish_wanted_ && !finished_) finish_now();
  }

  void finish(grpc::Status status) {
    std::lock_guard<std::mutex> lock(mu_);
    finish_locked(std::move(status));
  }

  void detach() {
    std::lock_guard<std::mutex> lock(mu_);
    reactor_ = nullptr;
    finish_wanted_ = finished_ = true;
  }

 private:
  void finish_locked(grpc::Status status) {
    if (finish_wanted_) return;
    finish_wanted_ = true;
    status_ = std::move(status);
    if (!writing_) finish_now();
  }

  void finish_now() {
    spdlog::trace("producer stream {}: finish ({})", static_cast<void*>(reactor_),
                  status_.error_message());
    finished_ = true;
    reactor_->Finish(status_);
  }

  std::mutex mu_;
  Reactor* reactor_;
  const std::chrono::milliseconds claim_timeout_;
  bool claim_arrived_ = false;
  v1::ProducerEvent out_;
  bool writing_ = false;
  bool finish_wanted_ = false;
  bool finished_ = false;
  grpc::Status status_;
};

// One producer's stream. Reads one message at a time: the first must claim a
// pool; after it the session only holds the lease (the daemon learns of
// frames from the pool itself), and a Published of an older client is
// read and ignored. The lease is released the moment
// the stream ends for any reason (half-close, cancel, a killed process whose
// socket the kernel closed, an invalid message, or revocation).
class ProducerStream final : public Reactor {
 public:
  ProducerStream(Registry& registry, StreamTracker& tracker, Deadlines& deadlines,
                 DescriptorBroker& descriptors, StatusOr<Caller> caller)
      : registry_(registry),
        tracker_(tracker),
        descriptors_(descriptors),
        control_(std::make_shared<SessionControl>(this, tracker.limits().claim_timeout)) {
    tracker_.add();
    Status s = caller.status();
    if (s.ok()) {
      caller_ = *caller;
      s = tracker_.admit(caller_.uid);
      admitted_ = s.ok();
    }
    // From here on gRPC's threads may run the callbacks below.
    tsan_handed_off(this);
    if (!s.ok()) {
      control_->finish(wire::to_grpc(s));
      return;
    }
    deadlines.schedule(Deadlines::Clock::now() + tracker.limits().claim_timeout, control_);
    control_->start_read(&in_);
  }

  void OnReadDone(bool ok) override {
    TsanReaction reaction(this);
    if (!ok) {
      spdlog::trace("producer stream {}: read side ended", static_cast<void*>(this));
      end(grpc::Status::OK);  // the producer closed its side, or the stream broke
      return;
    }
    if (Status s = handle(); !s.ok()) {
      end(wire::to_grpc(s));
      return;
    }
    control_->start_read(&in_);
  }

  void OnWriteDone(bool /*ok*/) override {
    TsanReaction reaction(this);
    control_->write_done();
  }

  void OnCancel() override {
    TsanReaction reaction(this);
    spdlog::trace("producer stream {}: cancelled", static_cast<void*>(this));
    end(grpc::Status(grpc::StatusCode::CANCELLED, "producer session cancelled"));
  }

  void OnDone() override {
    tsan_taken_over(this);
    spdlog::trace("producer stream {}: done", static_cast<void*>(this));
    registry_.release(control_.get());
    control_->detach();
    if (admitted_) tracker_.leave(caller_.uid);
    StreamTracker& tracker = tracker_;
    delete this;
    tracker.remove();
  }

 private:
  void end(grpc::Status status) {
    registry_.release(control_.get());
    control_->finish(std::move(status));
  }

  Status handle() {
    switch (in_.msg_case()) {
      case v1::ProducerMessage::kClaim: {
        control_->claim_arrived();
        if (claimed_) {
          return invalid_argument(
              "ClaimPool sent twice on one ProducerSession; a session holds one pool, open "
              "another session for another pool");
        }
        auto claim = wire::from_proto(in_.claim());
        if (!claim.ok()) return claim.status();
        std::optional<ShmFile> handed_back;
        if (!claim->handback_token.empty()) {
          auto file = descriptors_.take_handed_over(caller_, claim->handback_token);
          if (file.ok()) {
            handed_back = std::move(*file);
          } else {
            spdlog::warn("pool '{}': hand-back from {} ignored: {}", claim->metadata.name,
                         caller_.to_string(), file.status().message());
          }
        }
        const bool had_memory = handed_back.has_value();
        auto granted = registry_.claim(*claim, caller_, control_,
                                       handed_back ? &*handed_back : nullptr);
        if (!granted.ok()) {
          if (had_memory && !registry_.get(claim->metadata.name).ok()) {
            // Memory handed back for a pool this daemon does not have: one
            // that lived before it started (a restart, maybe with lower
            // limits). Refusing it drops its history. Say so.
            spdlog::warn("pool '{}': the pool {} handed back after a restart is dropped, "
                         "history and all: {}",
                         claim->metadata.name, caller_.to_string(), granted.status().message());
          } else if (granted.status().code() == StatusCode::kResourceExhausted) {
            spdlog::warn("{}", granted.status().message());
          } else {
            spdlog::debug("claim of pool '{}' by {} refused: {}", claim->metadata.name,
                          caller_.to_string(), granted.status().message());
          }
          return granted.status();
        }
        claimed_ = true;
        granted->descriptor_token = descriptors_.issue(caller_, granted->memory, true);
        v1::ProducerEvent event;
        wire::to_proto(*granted, event.mutable_granted());
        control_->write(std::move(event));
        return {};
      }
      case v1::ProducerMessage::kPublished:
        if (!claimed_) {
          return invalid_argument(
              "the first message of a ProducerSession must be ClaimPool, not Published");
        }
        if (!published_logged_) {
          published_logged_ = true;
          spdlog::debug("pool session of {}: ignoring Published notices (an older client; the "
                        "daemon reads frames from the pool)",
                        caller_.to_string());
        }
        return {};
      default:
        return invalid_argument("empty ProducerMessage: set claim or published");
    }
  }

  Registry& registry_;
  StreamTracker& tracker_;
  DescriptorBroker& descriptors_;
  Caller caller_;
  bool admitted_ = false;  // counted by the tracker's limits
  std::shared_ptr<SessionControl> control_;
  // Touched only by read reactions, which never overlap (one read at a time).
  v1::ProducerMessage in_;
  bool claimed_ = false;
  bool published_logged_ = false;
};

}  // namespace

Reactor* start_producer_stream(Registry& registry, StreamTracker& tracker, Deadlines& deadlines,
                               DescriptorBroker& descriptors, StatusOr<Caller> caller) {
  return new ProducerStream(registry, tracker, deadlines, descriptors, std::move(caller));
}

}  // namespace tensoripc::daemon
