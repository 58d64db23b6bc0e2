// Consumer::Impl, shared by consumer.cc (construction, reads, the public
// API) and consumer_events.cc (the notification side: stream events, the
// futex thread, callbacks). Private to the client library.
#pragma once

#include <atomic>
#include <condition_variable>
#include <exception>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>

#include "buffer_pool.h"
#include "connection.h"
#include "device_frames.h"
#include "pool/mapping.h"
#include "subscription.h"
#include "tensoripc/consumer.h"

namespace tensoripc {

// What a read reads: the pool's mapping and, for a GPU pool, its frames on
// the device (both shared, so that a read in progress keeps them).
struct Readable {
  std::shared_ptr<PoolMapping> mapping;
  std::shared_ptr<DeviceFrames> device;  // a GPU pool's; null for a host pool
  explicit operator bool() const { return mapping != nullptr; }
  // The frames' source for the ring's reads: null (the mapping) for a host
  // pool.
  const FrameSource* source(std::optional<DeviceFrameSource>& holder, device::Stream stream) const {
    if (!device) return nullptr;
    holder.emplace(*device, stream);
    return &*holder;
  }
};

// The consumer's state. The subscription thread applies stream events under
// mu_; readers copy the current mapping (shared_ptrs) under mu_ and then
// read shared memory with no lock held. An optional futex thread drives the
// callback on the futex path.
//
// A GPU pool's device frames are imported when it is attached and let go
// when its producer leaves (CUDA IPC memory is its exporter's), before the
// lifecycle event reaches the application; reads find nothing to read from
// then on, and also whenever the pool's header says no producer holds it
// (the daemon clears it before it tells anyone).
class __attribute__((visibility("hidden"))) Consumer::Impl : public Subscription::Handler {
 public:
  Impl(PoolMetadata expected, ConsumerOptions options);
  ~Impl() override { cleanup(); }

  std::optional<FrameHistory> read(size_t count, bool latest_first);
  std::optional<Tensor> get(size_t count, bool latest_first);
  bool get_into(Tensor& out, size_t count, bool latest_first);
  uint64_t read_into(void* dst, size_t bytes, size_t count, bool latest_first,
                     device::Stream stream);
  device::Stream default_stream() const { return options_.cuda_stream; }
  std::optional<Device> device() const;
  std::optional<FrameView> view();
  bool wait_for_frame(std::chrono::nanoseconds timeout);
  void set_on_new_data(NewDataCallback cb);
  void set_on_lifecycle(LifecycleCallback cb);
  ConsumerStatus status() const;
  PoolMetadata metadata() const;
  void cleanup();

  // Subscription::Handler
  void on_event(const StreamEvent& event) override;
  bool on_stream_end(const Status& status) override;

 private:
  // What to read, empty when there is nothing to read; throws when the
  // consumer is closed or in error.
  Readable current_mapping(const char* what) const;
  // mapping_ and device_ as a Readable (mu_ held), empty when a GPU pool's
  // frames are gone.
  Readable readable_locked() const;
  void on_attached(const PoolEvent& attached);
  void set_state(PoolState state, int pid, std::string message);
  void fail_first(std::exception_ptr error);
  void note_seen(uint64_t seq);
  // InvalidArgumentError unless 1 <= count <= the pool's history_len.
  void check_history_len(const char* what, size_t count) const;
  // What a read of `count` frames returns: the frame shape, or [count, *frame].
  Shape result_shape(size_t count) const {
    return count == 1 ? frame_shape_ : frame_shape_.prepend(static_cast<int64_t>(count));
  }
  // Reads frame `seq` into `buf` if asked, then calls the callback; counts
  // the frame as skipped when it is no longer in the ring (if
  // `count_skipped`). Whether the callback got it.
  bool deliver(const Readable& r, uint64_t seq, int64_t ts, Frame& buf, bool count_skipped = true);
  // Stream path: the frames between the last one delivered and `seq` whose
  // events the daemon dropped (this consumer's keep_last queue was full) are
  // read from the ring, those still in it, before `seq` itself.
  void catch_up(const Readable& r, uint64_t seq);
  void run_futex_thread();
  // wait_for_seq_after, counted in sleepers_.
  uint64_t sleep_for_seq_after(const PoolMapping& m, uint64_t after,
                               std::chrono::nanoseconds timeout);

  PoolMetadata expected_;
  Shape frame_shape_;  // expected_.shape, made once
  const ConsumerOptions options_;
  std::shared_ptr<Connection> conn_;
  std::shared_ptr<BufferPool> buffers_ = BufferPool::create();
  std::atomic<uint64_t> last_seen_{0};
  std::atomic<uint64_t> skipped_{0};  // ConsumerStatus::skipped
  // Frames whose events the daemon dropped, delivered from the ring anyway.
  std::atomic<uint64_t> recovered_{0};
  // Stream path, the subscription thread's: the newest seq announced to this
  // consumer (its attach's latest_seq, then each frame event's).
  uint64_t stream_last_ = 0;
  std::atomic<bool> futex_stop_{false};
  // Threads inside wait_for_seq_after (the futex thread, wait_for_frame).
  std::atomic<int> sleepers_{0};

  mutable std::mutex mu_;
  std::condition_variable cv_;  // mapping changes, first event
  PoolState state_ = PoolState::kWaitingForProducer;
  std::shared_ptr<PoolMapping> mapping_;
  std::shared_ptr<DeviceFrames> device_;  // a GPU pool's frames, while readable
  // mapping_'s latest_seq when this consumer mapped it: the futex path
  // delivers the frames after it (the ones before are history, not news).
  uint64_t mapped_at_seq_ = 0;
  PoolMetadata pool_md_;
  int producer_pid_ = 0;
  uint64_t dropped_ = 0;
  bool connected_ = false;
  std::string error_;
  bool first_done_ = false;
  std::exception_ptr first_error_;
  bool closed_ = false;
  std::shared_ptr<const NewDataCallback> on_new_data_;
  std::shared_ptr<const LifecycleCallback> on_lifecycle_;

  Frame stream_frame_;  // the subscription thread's buffer
  Frame futex_frame_;   // the futex thread's buffer
  std::unique_ptr<Subscription> subscription_;
  std::thread futex_thread_;
};

}  // namespace tensoripc
