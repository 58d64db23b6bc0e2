// The producer's hot path: put() checks a frame against the pool and writes
// it into the ring (pool/ring.h). That is all a put does: the write wakes the
// pool's futex word, on which its futex consumers and tensor-ipcd (for the
// stream consumers) sleep; nothing is sent to the daemon per frame.
#pragma once

#include <unistd.h>

#include <cstdint>
#include <memory>
#include <mutex>
#include <string>

#include "device_frames.h"
#include "pool/mapping.h"
#include "tensoripc/metadata.h"
#include "tensoripc/producer.h"
#include "tensoripc/tensor.h"

namespace tensoripc {

// put() runs on the caller's thread; calls are serialised by mu_, which also
// guards the mapping the lease keeper installs on every grant and the
// failure it reports when the topic is lost. Thread-safe; mu_ is never held
// while calling anything but the ring (lock-free).
class Writer {
 public:
  // `device`: a GPU pool's frames (null for a host pool), written on
  // `stream` unless put() names another.
  Writer(const PoolMetadata& pool, std::shared_ptr<DeviceFrames> device, device::Stream stream);

  // Throws InvalidArgumentError (nothing written) for a frame of another
  // dtype, shape or memory kind, StateError after close(), and what fail()
  // recorded. A GPU pool takes host or device frames: one copy on `stream`
  // (the writer's own when null), then the slot's event recorded, then the
  // frame published; a failed copy throws with CUDA's text and publishes
  // nothing.
  PutResult put(const TensorView& frame, device::Stream stream = nullptr);

  // Producer::loan(): retires the next slot's old frame (its frame_seq goes
  // to 0 under the seqlock, so no reader takes its data from now on) and
  // lends the slot. Throws as put() does, and StateError while a loan is
  // outstanding.
  struct Lent {
    uint64_t seq = 0;
    void* data = nullptr;
    Device device;
  };
  Lent lend();
  // Publishes lent frame `seq` (a GPU pool's slot event recorded on
  // `stream` first). StateError when it is not the outstanding loan (or
  // after close()); the loan is over either way.
  PutResult commit(uint64_t seq, device::Stream stream);
  // Ends lent frame `seq` without publishing. No-op when it is not outstanding.
  void abandon(uint64_t seq);

  // A GPU pool's device memory, as the claim carries it (empty for host).
  CudaMemory device_memory() const { return device_ ? device_->memory() : CudaMemory{}; }

  // The mapping of a (re)granted pool: puts go there from now on, as
  // `producer_pid` (this process's pid as the daemon sees it, which wrote it
  // in the header; another pid namespace may number it differently).
  void install(std::shared_ptr<PoolMapping> mapping, int32_t producer_pid);
  std::shared_ptr<PoolMapping> mapping() const;
  uint64_t latest_seq() const;

  // The topic was lost while reconnecting; every later put throws
  // TopicTakenError (when `taken`, naming `holder_pid`) or StateError, with
  // `message`.
  void fail(std::string message, bool taken, int holder_pid);
  // cleanup(): every later put throws StateError; the mapping is dropped.
  void close();

 private:
  [[noreturn]] void reject(const std::string& why) const;
  // StateError after close(), or what fail() recorded. mu_ held.
  void throw_if_closed_or_failed(const char* what) const;
  // That, or StateError for a loan outstanding. mu_ held.
  [[noreturn, gnu::cold, gnu::noinline]] void throw_unwritable(const char* what) const;
  // put() of a GPU pool's frame, checked and mu_ held.
  PutResult put_on_device(const TensorView& frame, device::Stream stream);
  // The header's producer_pid says who writes the ring. The daemon sets it at
  // each grant and clears it when a lease ends; while this producer is
  // disconnected (daemon restart) it writes on and marks the pool its own, so
  // that readers finding a slot mid-write know its writer is alive. Another
  // pid there means another producer was granted the pool meanwhile: two
  // writers would break the seqlock, so put() refuses. mu_ held.
  void claim_header_or_throw();

  const PoolMetadata pool_;
  const std::shared_ptr<DeviceFrames> device_;
  const device::Stream stream_;

  mutable std::mutex mu_;  // serialises put(); guards the members below
  std::shared_ptr<PoolMapping> mapping_;
  int32_t self_pid_ = static_cast<int32_t>(::getpid());
  bool closed_ = false;
  uint64_t lent_seq_ = 0;  // the outstanding loan's seq; 0: none
  std::shared_ptr<PoolMapping> lent_mapping_;  // ... and the mapping it is in
  std::string failure_;
  bool failure_taken_ = false;
  int failure_holder_pid_ = 0;
};

}  // namespace tensoripc
