#include "writer.h"

#include "pool/ring.h"
#include "tensoripc/error.h"

namespace tensoripc {

Writer::Writer(const PoolMetadata& pool, std::shared_ptr<DeviceFrames> device,
               device::Stream stream)
    : pool_(pool), device_(std::move(device)), stream_(stream) {}

void Writer::reject(const std::string& why) const {
  throw InvalidArgumentError("put on pool '" + pool_.name + "': " + why + "; nothing was written");
}

PutResult Writer::put(const TensorView& frame, device::Stream stream) {
  if (frame.dtype() != pool_.dtype) {
    reject("frame dtype is " + std::string(dtype_name(frame.dtype())) + ", the pool holds " +
           std::string(pool_.dtype_str()));
  }
  const Shape& shape = frame.shape();
  bool same_shape = shape.ndim() == pool_.shape.size();
  for (size_t i = 0; same_shape && i < shape.ndim(); ++i) same_shape = shape[i] == pool_.shape[i];
  if (!same_shape) {
    reject("frame shape is " + shape.to_string() + ", the pool's frames are " +
           Shape(pool_.shape).to_string());
  }
  // A GPU pool takes host frames too (one host-to-device copy).
  if (!device_ && frame.device().kind != MemoryKind::kHost) {
    reject("frame is in " + frame.device().to_string() + " memory, the pool is a host (cpu) pool");
  }
  if (frame.data() == nullptr) reject("frame has no data (null pointer)");

  std::lock_guard<std::mutex> lock(mu_);
  // The uncommon cases out of line, so that the host path stays short.
  if (closed_ || !failure_.empty() || lent_seq_ != 0) throw_unwritable("put");
  claim_header_or_throw();
  if (device_) return put_on_device(frame, stream);
  // The frame, latest_seq, and one wake of the pool's word when anyone is
  // subscribed (futex consumers and the daemon, for its stream consumers).
  const FrameStamp w = write_next_frame(*mapping_, frame.data());
  return PutResult{w.slot, w.seq, w.timestamp_ns, w.slot};
}

void Writer::throw_unwritable(const char* what) const {
  throw_if_closed_or_failed(what);
  throw StateError(std::string(what) + " on pool '" + pool_.name + "' while frame " +
                   std::to_string(lent_seq_) +
                   " is on loan: commit or abandon it first; nothing was written");
}

PutResult Writer::put_on_device(const TensorView& frame, device::Stream stream) {
  // The copy and the slot's event under the seqlock; readers that find the
  // frame published wait on the event before they read it.
  Status copied;
  const uint64_t seq = mapping_->header().latest_seq.load(std::memory_order_relaxed) + 1;
  const FrameStamp w = write_frame_with(*mapping_, seq, [&](uint64_t slot) {
    copied = device_->copy_in(slot, frame.data(), stream ? stream : stream_);
    return copied.ok();
  });
  if (!copied.ok()) {
    throw_device_status(
        Status(copied.code(), "put on " + copied.message() + "; nothing was published"));
  }
  return PutResult{w.slot, w.seq, w.timestamp_ns, w.slot};
}

void Writer::throw_if_closed_or_failed(const char* what) const {
  if (closed_) throw StateError(std::string(what) + " on pool '" + pool_.name + "' after cleanup()");
  if (!failure_.empty()) {
    if (failure_taken_) throw TopicTakenError(failure_, pool_.name, failure_holder_pid_);
    throw StateError(failure_);
  }
}

Writer::Lent Writer::lend() {
  std::lock_guard<std::mutex> lock(mu_);
  throw_if_closed_or_failed("loan");
  if (lent_seq_ != 0) {
    throw StateError("loan on pool '" + pool_.name + "': frame " + std::to_string(lent_seq_) +
                     " is on loan already; commit or abandon it first");
  }
  claim_header_or_throw();
  const uint64_t seq = mapping_->header().latest_seq.load(std::memory_order_relaxed) + 1;
  const uint64_t slot = seq % mapping_->slot_count();
  // Retire the slot's frame before anyone writes there: a reader that had
  // begun to read it sees the seqlock move and finds frame_seq 0 (lost).
  SlotHeader& header = mapping_->slot(slot);
  slot_write_end(header, slot_write_begin(header), 0, 0);
  lent_seq_ = seq;
  lent_mapping_ = mapping_;
  if (device_) return Lent{seq, device_->frame(slot), Device::cuda(device_->ordinal())};
  return Lent{seq, mapping_->writable_frame(slot), Device::host()};
}

PutResult Writer::commit(uint64_t seq, device::Stream stream) {
  std::lock_guard<std::mutex> lock(mu_);
  const bool outstanding = seq != 0 && seq == lent_seq_;
  const bool same_memory = lent_mapping_ == mapping_;
  lent_seq_ = 0;
  lent_mapping_.reset();
  throw_if_closed_or_failed("commit");
  if (!outstanding) {
    throw StateError("commit on pool '" + pool_.name + "': frame " + std::to_string(seq) +
                     " is not on loan (committed or abandoned already)");
  }
  if (!same_memory) {
    throw StateError("commit on pool '" + pool_.name + "': the pool's memory changed while frame " +
                     std::to_string(seq) + " was on loan (the daemon made it anew); nothing "
                     "was published");
  }
  claim_header_or_throw();
  Status recorded;
  const FrameStamp w = write_frame_with(*mapping_, seq, [&](uint64_t slot) {
    if (device_) recorded = device_->record(slot, stream ? stream : stream_);
    return recorded.ok();
  });
  if (!recorded.ok()) {
    throw_device_status(
        Status(recorded.code(), "commit on " + recorded.message() + "; nothing was published"));
  }
  return PutResult{w.slot, w.seq, w.timestamp_ns, w.slot};
}

void Writer::abandon(uint64_t seq) {
  std::lock_guard<std::mutex> lock(mu_);
  if (seq == 0 || seq != lent_seq_) return;
  lent_seq_ = 0;  // the slot was retired when lent: nothing to undo
  lent_mapping_.reset();
}

void Writer::claim_header_or_throw() {
  std::atomic<int32_t>& pid = mapping_->header().producer_pid;
  int32_t holder = pid.load(std::memory_order_acquire);
  if (holder == self_pid_) return;
  if (holder == 0 && pid.compare_exchange_strong(holder, self_pid_, std::memory_order_acq_rel)) {
    return;
  }
  throw TopicTakenError("topic '" + pool_.name + "' was granted to producer pid " +
                            std::to_string(holder) +
                            " while this producer was reconnecting; nothing was written",
                        pool_.name, holder);
}

void Writer::install(std::shared_ptr<PoolMapping> mapping, int32_t producer_pid) {
  std::lock_guard<std::mutex> lock(mu_);
  mapping_ = std::move(mapping);
  if (producer_pid > 0) self_pid_ = producer_pid;
}

std::shared_ptr<PoolMapping> Writer::mapping() const {
  std::lock_guard<std::mutex> lock(mu_);
  return mapping_;
}

uint64_t Writer::latest_seq() const {
  std::lock_guard<std::mutex> lock(mu_);
  return mapping_ ? mapping_->header().latest_seq.load(std::memory_order_acquire) : 0;
}

void Writer::fail(std::string message, bool taken, int holder_pid) {
  std::lock_guard<std::mutex> lock(mu_);
  failure_ = std::move(message);
  failure_taken_ = taken;
  failure_holder_pid_ = holder_pid;
}

void Writer::close() {
  std::lock_guard<std::mutex> lock(mu_);
  closed_ = true;
  mapping_.reset();
  lent_mapping_.reset();
}

}  // namespace tensoripc
