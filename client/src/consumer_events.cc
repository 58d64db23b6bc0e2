// The consumer's notification side: Subscribe stream events (attach,
// producer gone, removed), the futex thread, and delivery to callbacks.
#include <unistd.h>

#include <algorithm>
#include <cstdio>

#include "common/descriptor_channel.h"
#include "consumer_impl.h"
#include "pool/model.h"
#include "pool/ring.h"
#include "tensoripc/error.h"

namespace tensoripc {

void Consumer::Impl::fail_first(std::exception_ptr error) {
  std::lock_guard<std::mutex> lock(mu_);
  first_error_ = std::move(error);
  first_done_ = true;
  cv_.notify_all();
}

void Consumer::Impl::set_state(PoolState state, int pid, std::string message) {
  std::shared_ptr<const LifecycleCallback> cb;
  {
    std::lock_guard<std::mutex> lock(mu_);
    state_ = state;
    first_done_ = true;
    cv_.notify_all();
    cb = on_lifecycle_;
  }
  if (cb && *cb) (*cb)(LifecycleEvent{state, pid, std::move(message)});
}

void Consumer::Impl::on_event(const StreamEvent& ev) {
  bool first;
  {
    std::lock_guard<std::mutex> lock(mu_);
    // A new subscription (a reconnect) counts from 0 again, and so do the
    // frames recovered from what it dropped.
    if (ev.dropped < dropped_) recovered_.store(0, std::memory_order_relaxed);
    dropped_ = ev.dropped;
    connected_ = true;
    first = !first_done_;
  }
  if (ev.is_frame()) {
    if (first) return;
    Readable r;
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (options_.notify == NotifyPath::kStream && on_new_data_) r = readable_locked();
    }
    if (r) {
      catch_up(r, ev.frame.seq);
      deliver(r, ev.frame.seq, ev.frame.timestamp_ns, stream_frame_);
    }
    stream_last_ = std::max(stream_last_, ev.frame.seq);
    return;
  }
  const PoolEvent& life = *ev.lifecycle;
  switch (life.kind) {
    case PoolEvent::Kind::kAttached:
      on_attached(life);
      break;
    case PoolEvent::Kind::kWaiting:
      set_state(PoolState::kWaitingForProducer, 0, "");
      break;
    case PoolEvent::Kind::kProducerGone: {
      PoolState s;
      std::shared_ptr<DeviceFrames> device;
      {
        std::lock_guard<std::mutex> lock(mu_);
        producer_pid_ = 0;
        s = mapping_ ? PoolState::kProducerGone : state_;
        // A GPU pool's memory went with its producer: let go of it before
        // anyone hears of the change (reads in progress keep it until they
        // end).
        device = std::move(device_);
      }
      device.reset();
      set_state(s, life.producer_pid, "");
      break;
    }
    case PoolEvent::Kind::kRemoved: {
      std::shared_ptr<PoolMapping> old;
      std::shared_ptr<DeviceFrames> device;
      {
        std::lock_guard<std::mutex> lock(mu_);
        old = std::move(mapping_);
        device = std::move(device_);
        producer_pid_ = 0;
      }
      device.reset();
      if (old) wake_waiters(*old);
      set_state(PoolState::kRemoved, 0, life.reason);
      break;
    }
  }
}

void Consumer::Impl::on_attached(const PoolEvent& a) {
  bool first;
  std::shared_ptr<PoolMapping> current;
  {
    std::lock_guard<std::mutex> lock(mu_);
    first = !first_done_;
    current = mapping_;
  }
  std::string error;
  bool mismatch = false;
  // A consumer may keep less history than the pool holds: its reads are
  // bounded by its own history_len.
  PoolMetadata wanted = expected_;
  if (wanted.history_len <= a.metadata.history_len) wanted.history_len = a.metadata.history_len;
  const std::string diff = describe_identity_mismatch(wanted, a.metadata);
  std::shared_ptr<PoolMapping> mapping = current;
  if (!diff.empty()) {
    mismatch = true;
    error = "pool '" + expected_.name + "' does not match what this consumer expects: " + diff +
            " (expected " + expected_.to_string() + ")";
  } else {
    auto memory =
        fetch_descriptor(conn_->socket_path(), a.descriptor_token, options_.connect_timeout);
    if (!memory.ok()) {
      error = "pool '" + expected_.name + "': " + memory.status().message();
    } else {
      auto opened = PoolMapping::reuse_or_open(current, std::move(*memory), a.layout, a.metadata,
                                               PoolMapping::Role::kConsumer);
      if (opened.ok()) {
        mapping = std::move(*opened);
      } else {
        error = opened.status().message();
      }
    }
  }
  // A GPU pool: its device memory, imported once per process (or the one
  // already open for this generation).
  std::shared_ptr<DeviceFrames> device;
  if (error.empty() && a.layout.memory_kind == MemoryKind::kCuda) {
    device::Api* api = device::device_api();
    auto imported = api ? DeviceFrames::import(*api, a.metadata, a.cuda, a.layout.generation)
                        : StatusOr<std::shared_ptr<DeviceFrames>>(
                              failed_precondition(device::device_api_unavailable()));
    if (imported.ok()) {
      device = std::move(*imported);
    } else {
      error = imported.status().message();
      mapping.reset();
    }
  }
  if (!error.empty()) {
    if (first) {
      fail_first(mismatch ? std::make_exception_ptr(MetadataMismatchError(error))
                          : std::make_exception_ptr(Error(error)));
      return;
    }
    std::shared_ptr<DeviceFrames> old_device;
    {
      std::lock_guard<std::mutex> lock(mu_);
      mapping_.reset();
      old_device = std::move(device_);
      error_ = error;
    }
    if (current) wake_waiters(*current);
    set_state(PoolState::kError, a.producer_pid, error);
    return;
  }
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (mapping != current) {
      last_seen_.store(0, std::memory_order_relaxed);
      mapped_at_seq_ = mapping->header().latest_seq.load(std::memory_order_acquire);
    }
    mapping_ = mapping;
    stream_last_ = a.latest_seq;  // frame events come for the frames after it
    device_.swap(device);  // the old one (a remap) is let go below, unlocked
    pool_md_ = a.metadata;
    producer_pid_ = a.producer_pid;
    error_.clear();
  }
  device.reset();
  if (current && current != mapping) wake_waiters(*current);
  set_state(a.producer_pid != 0 ? PoolState::kLive : PoolState::kProducerGone, a.producer_pid, "");
}

bool Consumer::Impl::on_stream_end(const Status& status) {
  bool first;
  {
    std::lock_guard<std::mutex> lock(mu_);
    connected_ = false;
    first = !first_done_;
  }
  if (first) {
    try {
      throw_for_status(status, expected_.name, conn_->socket_path());
    } catch (...) {
      fail_first(std::current_exception());
    }
    return false;
  }
  return options_.reconnect && status.code() != StatusCode::kInvalidArgument;
}

void Consumer::Impl::catch_up(const Readable& r, uint64_t seq) {
  const uint64_t last = stream_last_;
  if (seq <= last + 1) return;
  // Older than the ring's reach from `seq`: gone, and counted as dropped.
  const uint64_t slots = r.mapping->slot_count();
  const uint64_t from = std::max(last + 1, seq > slots ? seq - slots + 1 : 1);
  for (uint64_t s = from; s < seq; ++s) {
    // Overwritten meanwhile: the daemon counted it as dropped already.
    if (deliver(r, s, 0, stream_frame_, /*count_skipped=*/false)) {
      recovered_.fetch_add(1, std::memory_order_relaxed);
    }
  }
}

bool Consumer::Impl::deliver(const Readable& r, uint64_t seq, int64_t ts, Frame& buf,
                             bool count_skipped) {
  const PoolMapping& m = *r.mapping;
  std::shared_ptr<const NewDataCallback> cb;
  {
    std::lock_guard<std::mutex> lock(mu_);
    cb = on_new_data_;
  }
  if (!cb || !*cb) return false;
  void* dst = nullptr;
  if (options_.callback_reads_frame) {
    if (buf.tensor.empty() || buf.tensor.nbytes() != m.frame_size()) {
      buf.tensor = Tensor(expected_.dtype, frame_shape_);
    }
    dst = buf.tensor.data();
  }
  // Even when the data is not copied: the futex path knows only the seq, and
  // the slot's stamp is the frame's only if read under the seqlock.
  std::optional<DeviceFrameSource> source;
  ReadStatus read = ReadStatus::kLost;
  try {
    read = read_frame(m, seq, dst, &ts, r.source(source, options_.cuda_stream));
  } catch (const std::exception& e) {  // a GPU pool's copy failed (CUDA's error)
    std::fprintf(stderr, "tensor-ipc: pool '%s': frame %llu not delivered: %s\n",
                 expected_.name.c_str(), static_cast<unsigned long long>(seq), e.what());
  }
  if (read != ReadStatus::kOk) {  // gone already (or unreadable)
    if (count_skipped) skipped_.fetch_add(1, std::memory_order_relaxed);
    return false;
  }
  buf.seq = seq;
  buf.slot = seq % m.slot_count();
  buf.timestamp_ns = ts;
  try {
    (*cb)(buf);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "tensor-ipc: on_new_data callback for pool '%s' threw: %s\n",
                 expected_.name.c_str(), e.what());
  } catch (...) {
    std::fprintf(stderr, "tensor-ipc: on_new_data callback for pool '%s' threw\n",
                 expected_.name.c_str());
  }
  return true;
}

void Consumer::Impl::run_futex_thread() {
  std::shared_ptr<PoolMapping> m;
  Readable r;
  uint64_t delivered = 0;
  while (!futex_stop_.load(std::memory_order_acquire)) {
    {
      std::unique_lock<std::mutex> lock(mu_);
      cv_.wait(lock, [&] { return futex_stop_.load() || mapping_ != nullptr; });
      if (futex_stop_.load()) return;
      if (mapping_ != m) {
        m = mapping_;
        // Counted from the moment of mapping, not from now: a frame put
        // between the two is delivered, not lost.
        delivered = mapped_at_seq_;
      }
    }
    const uint64_t latest =
        sleep_for_seq_after(*m, delivered, std::chrono::milliseconds(200));
    if (latest <= delivered) continue;
    const uint64_t keep =
        std::min<uint64_t>(keep_last_or_default(options_.keep_last), m->slot_count());
    // More than keep_last behind: the oldest are skipped, as the daemon
    // drops the oldest events of a stream consumer that falls behind.
    const uint64_t first = std::max(delivered + 1, latest >= keep ? latest - keep + 1 : 1);
    skipped_.fetch_add(first - (delivered + 1), std::memory_order_relaxed);
    // Taken now, not before the sleep: a GPU pool's frames may have gone
    // meanwhile, and a sleeping thread must not keep them open.
    {
      std::lock_guard<std::mutex> lock(mu_);
      r = mapping_ == m ? readable_locked() : Readable{};
    }
    for (uint64_t s = first; r && s <= latest && !futex_stop_.load(std::memory_order_relaxed);
         ++s) {
      deliver(r, s, 0, futex_frame_);
    }
    r = Readable{};
    delivered = latest;
  }
}

}  // namespace tensoripc
