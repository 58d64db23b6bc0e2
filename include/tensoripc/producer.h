// Producer: publishes fixed-shape frames into a pool (Python's
// TensorProducer). It holds the pool's lease from tensor-ipcd for its whole
// life: one producer per topic at a time.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>

#include "tensoripc/export.h"
#include "tensoripc/metadata.h"
#include "tensoripc/tensor.h"

namespace tensoripc {

struct ProducerOptions {
  // Kept for the original API's signature (its DDS history depth); it bounds
  // nothing here: a producer sends tensor-ipcd no message per frame (the
  // daemon reads new frames from the pool), and each consumer sets its own
  // keep_last.
  uint32_t keep_last = 10;
  // tensor-ipcd's socket; "" resolves it as the daemon does: $TENSOR_IPC_SOCKET,
  // /run/tensor-ipc/tensor-ipcd.sock, $XDG_RUNTIME_DIR/tensor-ipc/tensor-ipcd.sock.
  std::string socket_path;
  // How long the constructor waits for the daemon to answer before it throws
  // DaemonUnavailableError. When the socket file does not exist (no daemon)
  // it throws after a quarter of a second instead (a restarting daemon's new
  // socket appears within it).
  std::chrono::milliseconds connect_timeout{3000};
  // After the daemon goes away (restart), re-claim the pool with back-off;
  // put() keeps writing shared memory meanwhile.
  bool reconnect = true;
  std::chrono::milliseconds reconnect_backoff_max{1000};
  // GPU pools: the stream put() copies frames on, unless it is given one.
  CudaStream cuda_stream = nullptr;
};

// What put() did: the slot written and the frame's sequence number
// (monotonic from 1 over the pool's life, across producers).
struct PutResult {
  uint64_t frame_index = 0;  // == slot: the name of what Python's put() returns
  uint64_t seq = 0;
  int64_t timestamp_ns = 0;  // CLOCK_REALTIME when the frame was complete
  uint64_t slot = 0;         // the ring slot written: seq % history_len
};

class Writer;  // the library's (client/src/writer.h)

// The next slot of a pool, lent to the caller to write a frame in place,
// without the copy put() makes (iceoryx calls it loaning): Producer::loan().
// commit() publishes what was written; a loan dropped (or abandon()ed)
// without commit publishes nothing. From loan() on, the slot's old frame
// (the pool's oldest) is gone: reads of it return a lost frame (zeros,
// seq 0), never a half-written one.
//
// One loan at a time per producer; put() and loan() throw StateError while
// one is outstanding. Movable, not copyable; not thread-safe (one writer).
// It may outlive its Producer: commit() then throws StateError.
class TENSORIPC_EXPORT Loan {
 public:
  Loan() = default;
  ~Loan();
  Loan(Loan&& other) noexcept;
  Loan& operator=(Loan&& other) noexcept;
  Loan(const Loan&) = delete;
  Loan& operator=(const Loan&) = delete;

  // The slot: nbytes() writable bytes, host memory for a host pool, device
  // memory (tensor().device() is cuda:N) for a GPU pool.
  void* data() const { return data_; }
  size_t nbytes() const { return tensor_.nbytes(); }
  // The slot as a tensor of the pool's dtype and shape (DLPack: to_dlpack()).
  const TensorView& tensor() const { return tensor_; }
  // The sequence number commit() publishes it as.
  uint64_t seq() const { return seq_; }
  bool active() const { return writer_ != nullptr; }

  // Publishes the frame. A GPU pool's slot event is recorded on `stream`
  // first: the stream the frame was written on (its work queued before
  // commit() is complete before any consumer reads the frame). Throws
  // StateError when the loan is not active or the producer was cleaned up.
  PutResult commit(CudaStream stream = nullptr);
  // Gives the slot back; nothing is published. Idempotent.
  void abandon();

 private:
  friend class Producer;
  std::shared_ptr<Writer> writer_;  // null: not active
  void* data_ = nullptr;
  TensorView tensor_;
  uint64_t seq_ = 0;
};

// Owns the lease, the mapping of the pool and a background session with the
// daemon. Movable, not copyable. put() may be called from any thread (calls
// are serialised); cleanup() and the destructor end the lease.
class TENSORIPC_EXPORT Producer {
 public:
  // Claims the pool described by `metadata` (shape, dtype, history_len,
  // device; the rest is filled in). Throws TopicTakenError (another producer
  // holds it; its pid in the message), InvalidArgumentError,
  // ResourceExhaustedError, DaemonUnavailableError. A GPU pool (device
  // cuda:N) is one device allocation made here, with one interprocess event
  // per slot; their CUDA IPC handles go to the daemon, which hands them to
  // consumers. It needs a build with CUDA and a usable GPU: else
  // InvalidArgumentError (no CUDA in this build) or Error (CUDA's text).
  // The memory is this producer's: when it ends, consumers let go of it and
  // the pool goes; a new producer makes a new one.
  explicit Producer(PoolMetadata metadata, ProducerOptions options = {});
  // A producer of a pool for frames like `sample`.
  static Producer from_sample(std::string name, const TensorView& sample, uint32_t history_len = 1,
                              ProducerOptions options = {});

  ~Producer();
  Producer(Producer&& other) noexcept;
  Producer& operator=(Producer&& other) noexcept;
  Producer(const Producer&) = delete;
  Producer& operator=(const Producer&) = delete;

  // Copies `frame` into the next slot and tells waiting consumers. The frame
  // must match the pool's dtype and shape, else InvalidArgumentError and
  // nothing is written. Never blocks on the daemon; no system call but a
  // futex wake when a consumer waits on the futex.
  //
  // A host pool takes host frames. A GPU pool takes device frames (one
  // device-to-device copy) or host frames (one host-to-device copy), queued
  // on `stream` (ProducerOptions::cuda_stream by default), then the slot's
  // interprocess event is recorded there and the frame published: put()
  // does not wait for the copy, and consumers wait on the event, so work the
  // caller queued on the stream before put() (what made the frame) is
  // complete before any consumer reads it. The frame's memory may be reused
  // by later work on that stream.
  PutResult put(const TensorView& frame);
  PutResult put(const TensorView& frame, CudaStream stream);

  // The next slot, to write the frame in place (see Loan): no copy. Throws
  // as put() does (StateError after cleanup(), TopicTakenError, ...) and
  // StateError while another loan of this producer is outstanding.
  Loan loan();

  // The granted metadata (shm_name, sizes and creator_pid filled in).
  const PoolMetadata& metadata() const;
  // Sequence number of the last frame in the pool (0: none yet).
  uint64_t latest_seq() const;
  // Whether the session with the daemon is up right now (false while it
  // reconnects after a restart).
  bool connected() const;

  // Ends the lease and unmaps the pool. Idempotent; put() afterwards throws
  // StateError.
  void cleanup();

  class Impl;

 private:
  std::unique_ptr<Impl> impl_;
};

}  // namespace tensoripc
