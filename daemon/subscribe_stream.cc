#include "daemon/subscribe_stream.h"

#include <grpcpp/server_context.h>
#include <spdlog/spdlog.h>

#include <chrono>
#include <mutex>
#include <utility>

#include "common/tsan.h"
#include "daemon/event_queue.h"
#include "proto/wire.h"

namespace tensoripc::daemon {
namespace {

using Reactor = grpc::ServerWriteReactor<v1::SubscribeEvent>;

// The subscriber's outbox: the EventSink the registry pushes into, and the one
// place that drives the reactor. One write in flight at most; the next starts
// from write_done (OnWriteDone), taking the pool's frames announced meanwhile
// from its feed, so a slow subscriber costs its pool's announce nothing and
// never delays the producer or other subscribers. With nothing to write it
// waits on the feed, whose next announce wakes it. Each
// write takes a turn at the daemon's WriteGate first, so that no pool's
// subscribers crowd another's out of gRPC. Finish happens exactly once,
// never with a write in flight, and the reactor is not touched after Finish
// or detach (OnDone). A write that waits longer than the stall timeout
// (the subscriber's socket is full: it does not read) cancels the call, which
// ends the write and then the stream. Owned jointly by the reactor, while
// subscribed the registry, and while a stall check is due the deadlines'
// thread; thread-safe.
class Outbox final : public EventSink,
                     public FrameFeed::Waiter,
                     public WriteGate::Waiter,
                     public Expiring,
                     public std::enable_shared_from_this<Outbox> {
 public:
  Outbox(Reactor* reactor, grpc::CallbackServerContext* context, uint32_t keep_last,
         DescriptorBroker& descriptors, WriteGate& gate, Deadlines& deadlines,
         std::chrono::milliseconds stall_timeout, const Caller& caller, std::string pool)
      : context_(context),
        reactor_(reactor),
        queue_(keep_last),
        descriptors_(descriptors),
        gate_(gate),
        deadlines_(deadlines),
        stall_timeout_(stall_timeout),
        caller_(caller),
        pool_(std::move(pool)) {}

  void follow(std::shared_ptr<FrameFeed> feed, uint64_t after) override {
    std::lock_guard<std::mutex> lock(mu_);
    queue_.follow(std::move(feed), after);
    write_next();
  }

  void frames_announced() override {
    std::lock_guard<std::mutex> lock(mu_);
    queue_.woken();
    write_next();
  }

  void push_lifecycle(std::shared_ptr<const PoolEvent> event) override {
    std::lock_guard<std::mutex> lock(mu_);
    if (finish_wanted_) return;
    if (event->kind == PoolEvent::Kind::kAttached) queue_.cap_frames(event->layout.slot_count);
    if (!queue_.push_lifecycle(std::move(event))) {
      finish(grpc::Status(grpc::StatusCode::RESOURCE_EXHAUSTED,
                          "subscriber is not reading: " + std::to_string(kMaxLifecycleBacklog) +
                              " lifecycle events are waiting for it"));
      return;
    }
    write_next();
  }

  void close(const Status& status) override {
    std::lock_guard<std::mutex> lock(mu_);
    finish(wire::to_grpc(status));
  }

  SubscriberStats stats() const override {
    std::lock_guard<std::mutex> lock(mu_);
    SubscriberStats s;
    s.keep_last = queue_.keep_last();
    s.delivered = delivered_;
    s.dropped = queue_.dropped();
    s.queued = queue_.queued_frames();
    return s;
  }

  bool granted(uint64_t ticket) override {
    std::lock_guard<std::mutex> lock(mu_);
    waiting_turn_ = false;
    if (writing_ || finish_wanted_) return false;
    ticket_ = ticket;
    if (start_write()) return true;
    ticket_ = 0;   // the turn goes to the next
    write_next();  // nothing to write after all: waits for frames
    return false;
  }

  void write_done(bool ok) {
    std::lock_guard<std::mutex> lock(mu_);
    writing_ = false;
    gate_.release(ticket_);
    ticket_ = 0;
    if (ok && current_is_frame_) ++delivered_;
    next_.lifecycle.reset();  // the event is written; let go of it
    if (!ok) finish(grpc::Status(grpc::StatusCode::CANCELLED, "subscriber went away"));
    if (finish_wanted_) {
      if (!finished_) finish_now();
      return;
    }
    write_next();
  }

  void cancel() {
    std::lock_guard<std::mutex> lock(mu_);
    finish(grpc::Status(grpc::StatusCode::CANCELLED, "subscriber went away"));
  }

  // OnDone: the reactor and its call are about to go. Waits for a
  // cancellation in progress on another thread (expire) to return.
  void detach() {
    std::lock_guard<std::recursive_mutex> call_guard(call_mu_);
    context_ = nullptr;
    std::lock_guard<std::mutex> lock(mu_);
    reactor_ = nullptr;
    finish_wanted_ = finished_ = true;
  }

  // Expiring: a stall check is due. The write in flight since before the
  // stall timeout means the subscriber takes nothing: the call is cancelled
  // (its write then completes, not ok, and the stream finishes). gRPC may run
  // the reactor's callbacks, OnDone included, inside TryCancel on this
  // thread: call_mu_ is recursive for that, and nothing is touched after.
  void expire() override {
    std::lock_guard<std::recursive_mutex> call_guard(call_mu_);
    std::chrono::milliseconds waited;
    uint64_t dropped = 0;
    {
      std::lock_guard<std::mutex> lock(mu_);
      stall_check_due_ = false;
      if (!writing_ || finish_wanted_) return;  // detach() sets finish_wanted_ too
      const auto now = Deadlines::Clock::now();
      if (now < write_started_ + stall_timeout_) {  // a later write: check again then
        schedule_stall_check(write_started_ + stall_timeout_);
        return;
      }
      waited = std::chrono::duration_cast<std::chrono::milliseconds>(now - write_started_);
      dropped = queue_.dropped();
      // Recorded for Finish; the cancel below resets the stream, so the
      // client sees CANCELLED whatever this says. The log says why.
      finish(grpc::Status(grpc::StatusCode::DEADLINE_EXCEEDED,
                          "subscriber took no event for " + std::to_string(waited.count()) +
                              " ms (--stall-timeout-ms)"));
    }
    spdlog::info("subscriber of '{}' (pid {}, uid {}) took no event for {} ms; stream ended "
                 "(--stall-timeout-ms {}), {} frames dropped for it",
                 pool_, caller_.pid, caller_.uid, waited.count(), stall_timeout_.count(), dropped);
    context_->TryCancel();  // alive: detach() has not run (finish_wanted_ was false)
  }

  void finish_with(const grpc::Status& status) {
    std::lock_guard<std::mutex> lock(mu_);
    finish(status);
  }

 private:
  // All below: mu_ held.
  void write_next() {
    for (;;) {
      if (writing_ || finish_wanted_ || waiting_turn_) return;
      if (queue_.empty()) {
        if (queue_.wait_for_frames(weak_from_this())) return;  // frames_announced() comes
        continue;                                               // announced meanwhile
      }
      // Its queue overflowed since it last asked: it falls behind, and waits
      // for a lagging turn (after the streams that keep up, at a bounded rate).
      ticket_ = queue_.fell_behind() ? gate_.acquire_lagging(pool_, weak_from_this())
                                     : gate_.acquire(pool_, weak_from_this());
      if (ticket_ == 0) {
        waiting_turn_ = true;  // granted() comes
        return;
      }
      if (start_write()) return;
      gate_.release(ticket_);  // every frame announced was overwritten: none to write
      ticket_ = 0;
    }
  }

  void schedule_stall_check(Deadlines::Clock::time_point when) {
    stall_check_due_ = true;
    deadlines_.schedule(when, weak_from_this());
  }

  // With a turn (ticket_): writes the next event; false if there is none
  // after all (the frames announced were overwritten before it read them).
  bool start_write() {
    if (!queue_.pop(&next_)) return false;
    wire::to_proto(next_, &current_);
    if (current_.has_attached() && next_.lifecycle->memory) {
      // Issued now, for this subscriber: the event itself is shared by all.
      current_.mutable_attached()->set_descriptor_token(
          descriptors_.issue(caller_, next_.lifecycle->memory, false));
    }
    current_is_frame_ = next_.is_frame();
    writing_ = true;
    if (stall_timeout_.count() > 0) {
      write_started_ = Deadlines::Clock::now();
      // One check due at a time: it reschedules itself while writes go on.
      if (!stall_check_due_) schedule_stall_check(write_started_ + stall_timeout_);
    }
    reactor_->StartWrite(&current_);
    return true;
  }

  void finish(grpc::Status status) {
    if (finish_wanted_) return;
    finish_wanted_ = true;
    status_ = std::move(status);
    if (!writing_) finish_now();
  }

  void finish_now() {
    spdlog::trace("subscriber {}: finish ({})", static_cast<void*>(reactor_),
                  status_.error_message());
    finished_ = true;
    reactor_->Finish(status_);
  }

  // Held while the call is cancelled, and by detach: the context is alive
  // while it is not null under it.
  std::recursive_mutex call_mu_;
  grpc::CallbackServerContext* context_;
  mutable std::mutex mu_;
  Reactor* reactor_;
  EventQueue queue_;
  DescriptorBroker& descriptors_;
  WriteGate& gate_;
  Deadlines& deadlines_;
  const std::chrono::milliseconds stall_timeout_;
  Deadlines::Clock::time_point write_started_;  // of the write in flight
  bool stall_check_due_ = false;
  const Caller caller_;
  const std::string pool_;
  uint64_t ticket_ = 0;        // the gate's turn of the write in flight
  bool waiting_turn_ = false;  // asked the gate, not granted yet
  StreamEvent next_;            // what current_ was made from
  v1::SubscribeEvent current_;  // the write in flight; untouched until write_done
  bool current_is_frame_ = false;
  bool writing_ = false;
  bool finish_wanted_ = false;
  bool finished_ = false;
  grpc::Status status_;
  uint64_t delivered_ = 0;
};

class SubscribeStream final : public Reactor {
 public:
  SubscribeStream(Registry& registry, StreamTracker& tracker, Deadlines& deadlines,
                  DescriptorBroker& descriptors, WriteGate& gate,
                  grpc::CallbackServerContext* context, StatusOr<Caller> caller,
                  const v1::SubscribeRequest& request)
      : registry_(registry), tracker_(tracker) {
    tracker_.add();
    auto keep_last = effective_keep_last(request.keep_last());
    outbox_ = std::make_shared<Outbox>(this, context,
                                       keep_last.ok() ? *keep_last : kDefaultKeepLast, descriptors,
                                       gate, deadlines, tracker.limits().stall_timeout,
                                       caller.ok() ? *caller : Caller{}, request.name());
    Status s = caller.ok() ? keep_last.status() : caller.status();
    if (s.ok()) {
      s = tracker_.admit(caller->uid);
      if (s.ok()) {
        admitted_ = true;
        uid_ = caller->uid;
      }
    }
    // From here on (the first event written, or Finish) gRPC's threads may
    // run the callbacks below.
    tsan_handed_off(this);
    if (s.ok()) s = registry_.subscribe(request.name(), *caller, outbox_, !request.lifecycle_only());
    if (!s.ok()) outbox_->finish_with(wire::to_grpc(s));
  }

  void OnWriteDone(bool ok) override {
    TsanReaction reaction(this);
    if (!ok) spdlog::trace("subscriber {}: write failed", static_cast<void*>(this));
    outbox_->write_done(ok);
  }

  void OnCancel() override {
    TsanReaction reaction(this);
    spdlog::trace("subscriber {}: cancelled", static_cast<void*>(this));
    registry_.unsubscribe(outbox_.get());
    outbox_->cancel();
  }

  void OnDone() override {
    tsan_taken_over(this);
    spdlog::trace("subscriber {}: done", static_cast<void*>(this));
    registry_.unsubscribe(outbox_.get());
    outbox_->detach();
    if (admitted_) tracker_.leave(uid_);
    StreamTracker& tracker = tracker_;
    delete this;
    tracker.remove();
  }

 private:
  Registry& registry_;
  StreamTracker& tracker_;
  bool admitted_ = false;  // counted by the tracker's limits, as uid_
  uint32_t uid_ = 0;
  std::shared_ptr<Outbox> outbox_;
};

}  // namespace

Reactor* start_subscribe_stream(Registry& registry, StreamTracker& tracker, Deadlines& deadlines,
                                DescriptorBroker& descriptors, WriteGate& gate,
                                grpc::CallbackServerContext* context, StatusOr<Caller> caller,
                                const v1::SubscribeRequest& request) {
  return new SubscribeStream(registry, tracker, deadlines, descriptors, gate, context,
                             std::move(caller), request);
}

}  // namespace tensoripc::daemon
