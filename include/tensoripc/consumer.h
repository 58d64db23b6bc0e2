// Consumer: reads frames of a pool and is told of new ones (Python's
// TensorConsumer). Reads go straight to shared memory and never wait on the
// daemon or on the producer.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "tensoripc/export.h"
#include "tensoripc/metadata.h"
#include "tensoripc/tensor.h"

namespace tensoripc {

// How the on_new_data callback is driven.
enum class NotifyPath : uint8_t {
  kStream,  // the daemon's Subscribe stream: one event per frame (default)
  kFutex,   // the pool's futex word: lowest latency; lifecycle still from the stream
};

// Where the consumer stands with its pool.
enum class PoolState : uint8_t {
  kWaitingForProducer,  // no pool yet: get() returns nothing until a producer claims it
  kLive,                // mapped, a producer holds it
  kProducerGone,        // mapped, no producer now (history still readable)
  kRemoved,             // the pool was deleted; waiting for a new one
  kError,               // the pool changed identity (see ConsumerStatus::error)
  kClosed,              // after cleanup()
};

TENSORIPC_EXPORT const char* to_string(PoolState state);

// A lifecycle change, as given to on_lifecycle.
struct LifecycleEvent {
  PoolState state = PoolState::kWaitingForProducer;
  int producer_pid = 0;  // the producer that came or went
  std::string message;   // e.g. the reason a pool was removed
};

// One frame, as given to on_new_data.
struct Frame {
  Tensor tensor;     // the frame's data (empty if callback_reads_frame is false)
  uint64_t seq = 0;  // 0: the frame was lost (its producer died mid-write)
  uint64_t slot = 0;
  int64_t timestamp_ns = 0;
};

// A multi-frame read: the data and, per frame in the same order, its sequence
// number (0 for frames never written or lost, which read as zeros) and time.
struct FrameHistory {
  Tensor tensor;  // frame shape for one frame, else [count, *frame shape]
  std::vector<uint64_t> seqs;
  std::vector<int64_t> timestamps_ns;
};

using NewDataCallback = std::function<void(const Frame& frame)>;
using LifecycleCallback = std::function<void(const LifecycleEvent& event)>;

struct ConsumerOptions {
  // Frame events the daemon queues for this consumer (at most the pool's
  // history_len, and 1024); when full the oldest is dropped, and the stream
  // path reads the frames of the events it missed from the ring while they
  // are still there (ConsumerStatus::dropped counts the rest). 0 means 10.
  uint32_t keep_last = 10;
  NotifyPath notify = NotifyPath::kStream;
  // As ProducerOptions::socket_path.
  std::string socket_path;
  // As ProducerOptions::connect_timeout.
  std::chrono::milliseconds connect_timeout{3000};
  // Called on the consumer's notification thread for every new frame (on the
  // futex path: every frame still in the ring since the last call, at most
  // keep_last). Must not destroy the consumer.
  NewDataCallback on_new_data;
  // false: the callback gets seq and time only (the frame's stamp, read from
  // its slot) and reads what it wants itself. Either way a frame already
  // overwritten when its turn comes is skipped (ConsumerStatus::skipped).
  bool callback_reads_frame = true;
  // Called on the notification thread when the pool's state changes.
  LifecycleCallback on_lifecycle;
  bool reconnect = true;
  std::chrono::milliseconds reconnect_backoff_max{1000};
  // GPU pools: the stream reads copy on (each read waits for it, as a read
  // must be complete before the frame's slot is checked again), and the
  // stream view() makes wait for the frame's event.
  CudaStream cuda_stream = nullptr;
};

// What a consumer knows about its pool right now.
struct ConsumerStatus {
  PoolState state = PoolState::kWaitingForProducer;
  int producer_pid = 0;
  uint64_t latest_seq = 0;
  // Frames lost because the daemon dropped their events (this consumer's
  // keep_last queue was full, or the daemon was stalled) and they had left
  // the ring before the consumer could read them: on the stream path a gap
  // in the events is filled from the ring, and only what the ring no longer
  // holds counts here. Per subscription (a reconnect starts from 0).
  uint64_t dropped = 0;
  // Frames on_new_data was not called for although this consumer was told of
  // them: the producer overwrote the frame's slot before its turn came (a
  // slow callback, a small history_len), or (futex path) the callback fell
  // more than keep_last frames behind. With a callback set, every frame
  // published after the consumer attached is delivered or skipped (futex
  // path), or delivered, skipped or dropped (stream path).
  uint64_t skipped = 0;
  bool connected = false;  // the Subscribe stream is up
  std::string error;       // for kError: what did not match
};

// A zero-copy view of one frame in shared memory. It stays readable while
// the view lives (the mapping is kept), but its content is only that frame
// until the producer wraps round the ring: check still_valid() after using
// the data. Copyable; thread-compatible.
//
// A GPU pool's view is device memory (tensor().device() is cuda:N, DLPack
// kDLCUDA). view() has made ConsumerOptions::cuda_stream wait for the
// frame's event: work queued there afterwards sees the whole frame; another
// stream must wait on cuda_event() (a cudaEvent_t) first. The view keeps the
// imported memory open, but a GPU pool's memory is its producer's: after
// the producer leaves, the data is gone whatever still_valid() says.
class TENSORIPC_EXPORT FrameView {
 public:
  const TensorView& tensor() const { return tensor_; }
  uint64_t seq() const { return seq_; }
  int64_t timestamp_ns() const { return timestamp_ns_; }
  // True while the producer has not started overwriting the frame's slot;
  // data read before a true still_valid() was that frame.
  bool still_valid() const;
  // Exports the frame as DLPack without copying. The capsule keeps the pool
  // mapped for as long as its consumer holds it; the content is that frame
  // only until the producer wraps round (still_valid()).
  DLManagedTensor* to_dlpack() const { return tensor_.to_dlpack(mapping_); }
  // A GPU frame's slot event (cudaEvent_t) to wait on; null for host frames.
  void* cuda_event() const { return cuda_event_; }
  // Makes work queued on `stream` after this wait for the frame's write
  // (cudaStreamWaitEvent on cuda_event()): for reading a GPU frame on a
  // stream other than ConsumerOptions::cuda_stream. Nothing for host frames.
  // Error with CUDA's text when CUDA refuses.
  void wait_on(CudaStream stream) const;

 private:
  friend struct FrameViewAccess;  // the library fills views in
  TensorView tensor_;
  uint64_t seq_ = 0;
  int64_t timestamp_ns_ = 0;
  uint64_t lock_ = 0;
  const void* slot_ = nullptr;
  void* cuda_event_ = nullptr;
  std::shared_ptr<const void> mapping_;
};

// Subscribes to a pool and maps it when it exists. Movable, not copyable.
// get(), read(), view(), status() and wait_for_frame() are safe to call from
// any thread; callbacks run on one notification thread owned by the consumer.
class TENSORIPC_EXPORT Consumer {
 public:
  // Subscribes to the pool `expected.name`. If the pool exists, it is checked
  // against `expected` (name, shape, dtype, device, and a history_len of at
  // most the pool's: a consumer may keep less history, and its reads are
  // bounded by its own): MetadataMismatchError on a difference. If not, the consumer waits for a
  // producer in the background and get() returns nothing until then.
  // DaemonUnavailableError when the daemon cannot be reached. A GPU pool
  // (device cuda:N) needs a build with CUDA and a usable GPU here: else
  // InvalidArgumentError (no CUDA in this build) or Error (CUDA's text).
  // Its memory is found by UUID, whatever CUDA_VISIBLE_DEVICES numbers it;
  // a GPU this process cannot see puts the consumer in kError naming both.
  explicit Consumer(PoolMetadata expected, ConsumerOptions options = {});
  // A consumer that expects frames like `sample`.
  static Consumer from_sample(std::string name, const TensorView& sample, uint32_t history_len = 1,
                              ConsumerOptions options = {});
  // A consumer of the pool `name` as it is: its shape, dtype and device from
  // the daemon (GetPool), and `history_len` frames of it (0: all of the
  // pool's; more than the pool keeps is a MetadataMismatchError).
  // PoolNotFoundError when the daemon has no pool of that name (no producer
  // ever claimed it, or it was removed); DaemonUnavailableError as above.
  static Consumer attach(std::string name, uint32_t history_len = 0,
                         ConsumerOptions options = {});

  ~Consumer();
  Consumer(Consumer&& other) noexcept;
  Consumer& operator=(Consumer&& other) noexcept;
  Consumer(const Consumer&) = delete;
  Consumer& operator=(const Consumer&) = delete;

  // Reads of a GPU pool copy its frames to host memory (get, read,
  // get_into) or to wherever read_into's `dst` is (host or device memory):
  // each frame's copy waits for its slot's event, on
  // ConsumerOptions::cuda_stream.
  //
  // The last `count` frames (Python's history_len argument) as an owning
  // copy: frame shape for 1, else [count, *frame shape], latest first unless
  // `latest_first` is false.
  // A consistent snapshot of consecutive frames; frames never written read as
  // zeros. nullopt when no frame was ever published.
  // InvalidArgumentError if count is 0 or above the pool's history_len; StateError
  // if the pool changed identity.
  std::optional<Tensor> get(size_t count = 1, bool latest_first = true);
  // As get(), into `out`: its buffer is overwritten in place when it already
  // has the result's dtype and shape (no allocation: the hot-loop form; a
  // DLPack export of `out` sees the new data), else `out` is replaced by a new
  // tensor. False, and `out` untouched, when no frame was ever published.
  bool get_into(Tensor& out, size_t count = 1, bool latest_first = true);
  // As get(), into caller memory: `dst` must hold `bytes` >= count x
  // the frame size (else InvalidArgumentError); host memory, or for a GPU
  // pool host or device memory. Returns the latest frame's
  // seq, 0 (and nothing written) when no frame was ever published.
  uint64_t read_into(void* dst, size_t bytes, size_t count = 1, bool latest_first = true);
  // As read_into() above, on `stream` instead of ConsumerOptions::cuda_stream
  // (a GPU pool; a host pool ignores it): the copy is queued after the work
  // already on `stream` (what last used `dst`), and complete on return.
  uint64_t read_into(void* dst, size_t bytes, size_t count, bool latest_first, CudaStream stream);
  // As get(), with each frame's seq and timestamp.
  std::optional<FrameHistory> read(size_t count = 1, bool latest_first = true);
  // The latest frame without a copy; nullopt when there is none.
  std::optional<FrameView> view();

  // Waits on the pool's futex until a frame newer than the newest this
  // consumer has seen (by get, read, view or wait_for_frame) is there, or the
  // timeout passes. Returns whether there is one.
  bool wait_for_frame(std::chrono::nanoseconds timeout);

  void set_on_new_data(NewDataCallback callback);
  void set_on_lifecycle(LifecycleCallback callback);

  ConsumerStatus status() const;
  // Where this consumer's reads find the frames, in this process's
  // numbering: the host for a host pool; for a GPU pool the GPU with the
  // pool's UUID (its ordinal may differ from the metadata's cuda:N, which is
  // the producer's), once attached, and nullopt until then (and while its
  // producer is gone). StateError after cleanup() or in kError.
  std::optional<Device> device() const;
  // The expected metadata; once attached, the pool's (shm_name etc. filled in).
  PoolMetadata metadata() const;

  // Unsubscribes, stops the notification thread and unmaps. Idempotent; must
  // not be called from a callback.
  void cleanup();

  class Impl;

 private:
  std::unique_ptr<Impl> impl_;
};

}  // namespace tensoripc
