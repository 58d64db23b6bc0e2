// The producer's lease keeper: claims the pool from tensor-ipcd, maps it, and
// claims it again after the daemon went away (restart), until stopped.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>

#include "connection.h"
#include "lease_call.h"
#include "session_loop.h"
#include "tensoripc/metadata.h"
#include "tensoripc/producer.h"
#include "writer.h"

namespace tensoripc {

// claim_first() runs on the constructing thread; keep() starts a SessionLoop
// whose thread waits for the lease's call to end and then claims again with
// back-off. Each grant is mapped (or the mapping kept: same segment and
// generation) and handed to the writer. A refusal after
// a reconnect (the topic taken meanwhile, another identity) is recorded in
// the writer, whose put() then throws it.
//
// Thread-safe. Lock order: mu_ is taken alone; it is never held while calling
// the writer, a LeaseCall or the SessionLoop (gRPC may run a
// call's on_end, which takes mu_, on the thread that cancels it).
class LeaseKeeper {
 public:
  LeaseKeeper(std::shared_ptr<Connection> connection, PoolMetadata requested,
              const ProducerOptions& options, Writer& writer);
  ~LeaseKeeper();
  LeaseKeeper(const LeaseKeeper&) = delete;
  LeaseKeeper& operator=(const LeaseKeeper&) = delete;

  // The first claim. Returns the granted metadata; throws what the daemon
  // answered (TopicTakenError, InvalidArgumentError, ...) or
  // DaemonUnavailableError.
  PoolMetadata claim_first();
  // Keeps the lease from now on (when options.reconnect).
  void keep();
  // Whether the lease's call is up right now.
  bool connected() const { return connected_.load(std::memory_order_acquire); }

  // Claims no more: cancels a claim in progress and joins the thread.
  void stop();
  // Ends the lease: half-closes the call and waits up to a second for the
  // daemon to end it.
  void end_lease();

 private:
  enum class ClaimResult { kGranted, kRefused, kRetry };
  ClaimResult claim(bool initial);
  SessionLoop::Outcome keep_once();
  void on_call_end(uint64_t id);
  void cancel_claim();

  const std::shared_ptr<Connection> connection_;
  const PoolMetadata requested_;
  const ProducerOptions options_;
  Writer& writer_;
  std::atomic<bool> connected_{false};
  PoolMetadata granted_;  // written by claim_first(), then constant

  std::mutex mu_;               // guards the members below
  std::condition_variable cv_;  // the call ended, or stop()
  bool stopping_ = false;
  std::shared_ptr<LeaseCall> call_;  // the call holding the lease (granted)
  uint64_t call_id_ = 0;             // ... and its id
  bool call_ended_ = false;          // ... has ended
  uint64_t next_id_ = 0;
  std::shared_ptr<LeaseCall> claiming_;  // a claim in progress, cancelled by stop()

  SessionLoop loop_;  // last: its thread uses the members above
};

}  // namespace tensoripc
