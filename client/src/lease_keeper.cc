#include "lease_keeper.h"

#include <unistd.h>

#include "common/descriptor_channel.h"
#include "pool/model.h"
#include "tensoripc/error.h"

namespace tensoripc {

LeaseKeeper::LeaseKeeper(std::shared_ptr<Connection> connection, PoolMetadata requested,
                         const ProducerOptions& options, Writer& writer)
    : connection_(connection),
      requested_(std::move(requested)),
      options_(options),
      writer_(writer),
      loop_(std::move(connection), options.reconnect_backoff_max) {}

LeaseKeeper::~LeaseKeeper() { stop(); }

PoolMetadata LeaseKeeper::claim_first() {
  claim(/*initial=*/true);  // throws unless granted
  return granted_;
}

void LeaseKeeper::keep() {
  if (options_.reconnect) {
    loop_.start([this] { return keep_once(); }, [this] { cancel_claim(); });
  }
}

void LeaseKeeper::cancel_claim() {
  std::shared_ptr<LeaseCall> claiming;
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
    claiming = claiming_;
    cv_.notify_all();
  }
  // Outside mu_: gRPC may run the call's reactions (and so on_call_end,
  // which takes mu_) on the thread that cancels.
  if (claiming) claiming->cancel();
}

void LeaseKeeper::stop() {
  cancel_claim();
  loop_.stop();
}

void LeaseKeeper::end_lease() {
  std::shared_ptr<LeaseCall> call;
  {
    std::lock_guard<std::mutex> lock(mu_);
    call = std::move(call_);
  }
  connected_.store(false, std::memory_order_release);
  if (call) call->finish(std::chrono::milliseconds(1000));
}

void LeaseKeeper::on_call_end(uint64_t id) {
  std::lock_guard<std::mutex> lock(mu_);
  if (id == call_id_) {
    call_ended_ = true;
    connected_.store(false, std::memory_order_release);
    cv_.notify_all();
  }
}

SessionLoop::Outcome LeaseKeeper::keep_once() {
  bool live;
  {
    std::lock_guard<std::mutex> lock(mu_);
    live = call_ && !call_ended_;
  }
  if (!live) {
    switch (claim(/*initial=*/false)) {
      case ClaimResult::kGranted:
        break;
      case ClaimResult::kRefused:
        return SessionLoop::Outcome::kStop;
      case ClaimResult::kRetry:
        return SessionLoop::Outcome::kFailed;
    }
  }
  std::unique_lock<std::mutex> lock(mu_);
  cv_.wait(lock, [&] { return stopping_ || call_ended_; });
  if (stopping_) return SessionLoop::Outcome::kStop;
  // ABORTED: someone deleted the pool with force (tensor-ipc rm --force) to
  // end this lease. Claiming it again would undo that; the producer stops,
  // and put() says why.
  // Outside mu_, which the call's end takes; the call tells its owner it
  // ended before it records why, so wait for the record.
  std::shared_ptr<LeaseCall> call = call_;
  lock.unlock();
  if (call) call->wait_ended();
  const Status ended = call ? call->final_status() : Status();
  if (ended.code() == StatusCode::kAborted) {
    writer_.fail(ended.message(), false, 0);
    return SessionLoop::Outcome::kStop;
  }
  return SessionLoop::Outcome::kEnded;
}

LeaseKeeper::ClaimResult LeaseKeeper::claim(bool initial) {
  const std::chrono::milliseconds timeout = options_.connect_timeout;
  uint64_t id;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (stopping_) return ClaimResult::kRefused;
    id = ++next_id_;
  }
  Claim request{requested_, static_cast<int32_t>(::getpid()), "", writer_.device_memory()};
  if (std::shared_ptr<PoolMapping> held = writer_.mapping()) {
    // A daemon that restarted lost the pool; it carries on in the memory we
    // hand back, history and generation kept. A daemon that still has it
    // ignores this.
    auto token =
        hand_over_descriptor(connection_->socket_path(), held->file(), requested_.name, timeout);
    if (token.ok()) request.handback_token = *token;
  }
  auto call = std::make_shared<LeaseCall>(connection_->stub(), request,
                                          [this, id] { on_call_end(id); });
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (stopping_) return ClaimResult::kRefused;  // stop() came first
    claiming_ = call;
  }
  call->start();
  Grant granted;
  const auto outcome = call->wait_granted(timeout, &granted);
  {
    std::lock_guard<std::mutex> lock(mu_);
    claiming_.reset();
  }
  if (outcome != LeaseCall::Outcome::kGranted) {
    call->cancel();
    call->wait_ended();
    const Status st = call->final_status();
    if (outcome == LeaseCall::Outcome::kTimeout) {
      if (initial) {
        throw_daemon_unavailable(connection_->socket_path(),
                                 "no answer to the claim of pool '" + requested_.name +
                                     "' within " + std::to_string(timeout.count()) + " ms");
      }
      return ClaimResult::kRetry;
    }
    if (initial) throw_for_status(st, requested_.name, connection_->socket_path());
    switch (st.code()) {
      case StatusCode::kUnavailable:
      case StatusCode::kCancelled:
      case StatusCode::kDeadlineExceeded:
      case StatusCode::kUnknown:
      case StatusCode::kInternal:
        return ClaimResult::kRetry;
      default: {
        const bool taken = st.code() == StatusCode::kAlreadyExists;
        writer_.fail("pool '" + requested_.name +
                         "': the daemon refused the re-claim after a reconnect: " + st.message(),
                     taken, taken ? st.holder_pid() : 0);
        return ClaimResult::kRefused;
      }
    }
  }

  // Granted: the daemon's metadata must be what we asked for.
  std::string error;
  std::shared_ptr<PoolMapping> mapping;
  const std::string mismatch = describe_identity_mismatch(requested_, granted.metadata);
  if (!mismatch.empty()) {
    error = "pool '" + requested_.name + "': the daemon granted another pool: " + mismatch;
  } else {
    auto memory = fetch_descriptor(connection_->socket_path(), granted.descriptor_token, timeout);
    if (!memory.ok()) {
      // The daemon went away between the grant and the fetch, or is older
      // than this client.
      call->cancel();
      call->wait_ended();
      if (initial) {
        throw_daemon_unavailable(connection_->socket_path(),
                                 "pool '" + requested_.name + "': " + memory.status().message());
      }
      return ClaimResult::kRetry;
    }
    auto opened = PoolMapping::reuse_or_open(writer_.mapping(), std::move(*memory), granted.layout,
                                             granted.metadata, PoolMapping::Role::kProducer);
    if (opened.ok()) {
      mapping = std::move(*opened);
    } else {
      error = opened.status().message();
    }
  }
  if (!error.empty()) {
    call->finish(std::chrono::milliseconds(500));
    if (initial) throw Error(error);
    writer_.fail(error, false, 0);
    return ClaimResult::kRefused;
  }

  if (initial) granted_ = granted.metadata;
  writer_.install(mapping, granted.producer_pid);
  std::shared_ptr<LeaseCall> old;
  {
    std::lock_guard<std::mutex> lock(mu_);
    old = std::move(call_);
    call_ = call;
    call_id_ = id;
    call_ended_ = call->ended();
    connected_.store(!call_ended_, std::memory_order_release);
    cv_.notify_all();
  }
  if (old) old->wait_ended();  // already over: its end is why we re-claimed
  return ClaimResult::kGranted;
}

}  // namespace tensoripc
