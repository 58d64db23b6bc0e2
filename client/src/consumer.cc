#include "tensoripc/consumer.h"

#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <cstdio>
#include <exception>
#include <mutex>
#include <thread>

#include "consumer_impl.h"
#include "pool/mapping.h"
#include "pool/ring.h"
#include "tensoripc/daemon.h"
#include "tensoripc/error.h"

namespace tensoripc {

const char* to_string(PoolState state) {
  switch (state) {
    case PoolState::kWaitingForProducer:
      return "waiting for producer";
    case PoolState::kLive:
      return "live";
    case PoolState::kProducerGone:
      return "producer gone";
    case PoolState::kRemoved:
      return "removed";
    case PoolState::kError:
      return "error";
    case PoolState::kClosed:
      return "closed";
  }
  return "?";
}

// Fills FrameView's private fields; the one friend the view has.
struct FrameViewAccess {
  static FrameView make(TensorView tensor, const LatestFrame& f, const SlotHeader* slot,
                        std::shared_ptr<const void> mapping, void* cuda_event) {
    FrameView v;
    v.cuda_event_ = cuda_event;
    v.tensor_ = tensor;
    v.seq_ = f.frame.seq;
    v.timestamp_ns_ = f.frame.timestamp_ns;
    v.lock_ = f.lock;
    v.slot_ = slot;
    v.mapping_ = std::move(mapping);
    return v;
  }
  static const SlotHeader* slot(const FrameView& v) {
    return static_cast<const SlotHeader*>(v.slot_);
  }
  static uint64_t lock(const FrameView& v) { return v.lock_; }
};

bool FrameView::still_valid() const {
  const SlotHeader* slot = FrameViewAccess::slot(*this);
  return slot != nullptr && still_holds(*slot, lock_);
}

void FrameView::wait_on(CudaStream stream) const {
  if (cuda_event_ == nullptr) return;
  // A GPU frame's view holds its Readable (Consumer::Impl::view()).
  const auto* r = static_cast<const Readable*>(mapping_.get());
  const DeviceFrames& d = *r->device;
  if (Status s = d.api().wait(d.ordinal(), stream, cuda_event_); !s.ok()) {
    throw_device_status(Status(s.code(), "pool '" + d.pool() + "': " + s.message()));
  }
}

Consumer::Impl::Impl(PoolMetadata expected, ConsumerOptions options)
    : expected_(std::move(expected)), options_(std::move(options)) {
  expected_.validate_and_complete();
  if (expected_.memory_device().kind == MemoryKind::kCuda) {
    if (Status s = check_device_pools(expected_); !s.ok()) throw_device_status(s);
  }
  frame_shape_ = Shape(expected_.shape);
  pool_md_ = expected_;
  if (options_.on_new_data) {
    on_new_data_ = std::make_shared<const NewDataCallback>(options_.on_new_data);
  }
  if (options_.on_lifecycle) {
    on_lifecycle_ = std::make_shared<const LifecycleCallback>(options_.on_lifecycle);
  }
  conn_ = Connection::get(options_.socket_path);
  if (!conn_->wait_connected(options_.connect_timeout)) {
    throw_daemon_unavailable(
        conn_->socket_path(),
        "no connection within " + std::to_string(options_.connect_timeout.count()) + " ms");
  }
  // A futex-path consumer wakes on the pool's word itself: it asks the
  // daemon for lifecycle events only.
  SubscribeRequest req{expected_.name, options_.keep_last, static_cast<int32_t>(::getpid()),
                       options_.notify == NotifyPath::kFutex};
  subscription_ =
      std::make_unique<Subscription>(conn_, std::move(req), this, options_.reconnect_backoff_max);
  std::exception_ptr error;
  {
    std::unique_lock<std::mutex> lock(mu_);
    if (!cv_.wait_for(lock, options_.connect_timeout, [&] { return first_done_; })) {
      lock.unlock();
      subscription_->stop();
      throw_daemon_unavailable(conn_->socket_path(),
                               "no answer to the subscription to pool '" + expected_.name +
                                   "' within " + std::to_string(options_.connect_timeout.count()) +
                                   " ms");
    }
    error = first_error_;
  }
  if (error) {
    subscription_->stop();
    std::rethrow_exception(error);
  }
  if (options_.notify == NotifyPath::kFutex) {
    futex_thread_ = std::thread([this] { run_futex_thread(); });
  }
}

Readable Consumer::Impl::readable_locked() const {
  Readable r{mapping_, device_};
  if (r.mapping && r.mapping->layout().memory_kind == MemoryKind::kCuda &&
      (!r.device || r.mapping->header().producer_pid.load(std::memory_order_acquire) == 0)) {
    return {};  // a GPU pool whose producer left: its memory went with it
  }
  return r;
}

Readable Consumer::Impl::current_mapping(const char* what) const {
  std::lock_guard<std::mutex> lock(mu_);
  if (closed_)
    throw StateError(std::string(what) + " on pool '" + expected_.name + "' after cleanup()");
  if (state_ == PoolState::kError) throw StateError(error_);
  return readable_locked();
}

void Consumer::Impl::note_seen(uint64_t seq) {
  uint64_t prev = last_seen_.load(std::memory_order_relaxed);
  while (prev < seq && !last_seen_.compare_exchange_weak(prev, seq, std::memory_order_relaxed)) {
  }
}

void Consumer::Impl::check_history_len(const char* what, size_t count) const {
  if (count == 0 || count > expected_.history_len) {
    throw InvalidArgumentError(std::string(what) + " on pool '" + expected_.name +
                               "': history_len " + std::to_string(count) + " is not within 1.." +
                               std::to_string(expected_.history_len) + " (the pool's history_len)");
  }
}

std::optional<FrameHistory> Consumer::Impl::read(size_t count, bool latest_first) {
  check_history_len("read", count);
  const Readable r = current_mapping("read");
  if (!r) return std::nullopt;
  std::shared_ptr<void> storage = buffers_->acquire(count * r.mapping->frame_size());
  FrameHistory h;
  h.seqs.resize(count);
  h.timestamps_ns.resize(count);
  std::optional<DeviceFrameSource> source;
  const uint64_t latest =
      read_history(*r.mapping, count, latest_first, storage.get(), h.seqs.data(),
                   h.timestamps_ns.data(), r.source(source, options_.cuda_stream));
  if (latest == 0) return std::nullopt;
  note_seen(latest);
  void* data = storage.get();
  h.tensor = Tensor::adopt(std::move(storage), data, expected_.dtype, result_shape(count));
  return h;
}

// The hot path: one Tensor, built in place; a recycled buffer (no
// allocation, no control block); no seqs.
std::optional<Tensor> Consumer::Impl::get(size_t count, bool latest_first) {
  check_history_len("get", count);
  const Readable r = current_mapping("get");
  if (!r) return std::nullopt;
  std::shared_ptr<void> storage = buffers_->acquire(count * r.mapping->frame_size());
  std::optional<DeviceFrameSource> source;
  const uint64_t latest = read_history(*r.mapping, count, latest_first, storage.get(), nullptr,
                                       nullptr, r.source(source, options_.cuda_stream));
  if (latest == 0) return std::nullopt;
  note_seen(latest);
  void* data = storage.get();
  std::optional<Tensor> out;
  out.emplace(Tensor::adopt(std::move(storage), data, expected_.dtype, result_shape(count)));
  return out;
}

bool Consumer::Impl::get_into(Tensor& out, size_t count, bool latest_first) {
  check_history_len("get_into", count);
  const Readable r = current_mapping("get_into");
  // latest_seq never goes back to 0 in a mapping: past this check the read
  // below finds a frame, so `out` is only replaced when it gets one.
  if (!r || r.mapping->header().latest_seq.load(std::memory_order_acquire) == 0) return false;
  const size_t bytes = count * r.mapping->frame_size();
  if (out.empty() || out.dtype() != expected_.dtype || out.nbytes() != bytes ||
      out.shape() != result_shape(count)) {
    // Fully overwritten by the read: no zero-fill.
    std::shared_ptr<void> storage = allocate_buffer(bytes);
    void* data = storage.get();
    out = Tensor::adopt(std::move(storage), data, expected_.dtype, result_shape(count));
  }
  std::optional<DeviceFrameSource> source;
  const uint64_t latest = read_history(*r.mapping, count, latest_first, out.data(), nullptr,
                                       nullptr, r.source(source, options_.cuda_stream));
  note_seen(latest);
  return latest != 0;
}

uint64_t Consumer::Impl::read_into(void* dst, size_t bytes, size_t count, bool latest_first,
                                   device::Stream stream) {
  check_history_len("read_into", count);
  const Readable r = current_mapping("read_into");
  if (!r) return 0;
  const PoolMapping* m = r.mapping.get();
  if (dst == nullptr || bytes < count * m->frame_size()) {
    throw InvalidArgumentError(
        "read_into on pool '" + expected_.name + "': " + std::to_string(count) + " frame(s) of " +
        std::to_string(m->frame_size()) + " bytes need " + std::to_string(count * m->frame_size()) +
        " bytes; the destination " +
        (dst == nullptr ? std::string("is null") : "holds " + std::to_string(bytes)));
  }
  std::optional<DeviceFrameSource> source;
  const uint64_t latest =
      read_history(*m, count, latest_first, dst, nullptr, nullptr, r.source(source, stream));
  if (latest != 0) note_seen(latest);
  return latest;
}

std::optional<Device> Consumer::Impl::device() const {
  const Readable r = current_mapping("device");
  if (expected_.memory_device().kind != MemoryKind::kCuda) return Device::host();
  if (!r.device) return std::nullopt;
  return Device::cuda(r.device->ordinal());
}

std::optional<FrameView> Consumer::Impl::view() {
  Readable r = current_mapping("view");
  if (!r) return std::nullopt;
  const PoolMapping& m = *r.mapping;
  const LatestFrame f = locate_latest(m);
  if (f.frame.seq == 0) return std::nullopt;
  note_seen(f.frame.seq);
  const SlotHeader* slot = &m.slot(f.frame.slot);
  if (!r.device) {
    TensorView t(m.frame(f.frame.slot), expected_.dtype, frame_shape_);
    return FrameViewAccess::make(t, f, slot, std::move(r.mapping), nullptr);
  }
  // A GPU frame: the consumer's stream waits for the slot's event, so work
  // queued on it after this reads the whole frame.
  const DeviceFrames& d = *r.device;
  const device::Event event = d.event(f.frame.slot);
  if (Status s = d.api().wait(d.ordinal(), options_.cuda_stream, event); !s.ok()) {
    throw_device_status(Status(s.code(), "view of pool '" + expected_.name + "': " + s.message()));
  }
  TensorView t(d.frame(f.frame.slot), expected_.dtype, frame_shape_, Device::cuda(d.ordinal()));
  // The view keeps both the host mapping (its seqlock) and the device memory.
  auto both = std::make_shared<const Readable>(std::move(r));
  return FrameViewAccess::make(t, f, slot, std::shared_ptr<const void>(both, both.get()), event);
}

bool Consumer::Impl::wait_for_frame(std::chrono::nanoseconds timeout) {
  const auto now = std::chrono::steady_clock::now();
  // Saturate: nanoseconds::max() means "no limit", not an overflowed deadline.
  const auto deadline = timeout >= std::chrono::steady_clock::time_point::max() - now
                            ? std::chrono::steady_clock::time_point::max()
                            : now + timeout;
  // In slices, taking the mapping afresh each time: the pool may be removed
  // or remapped (new generation) while we wait, and its frames then arrive
  // in the new mapping, not the one we started on.
  constexpr auto kSlice = std::chrono::milliseconds(100);
  for (;;) {
    std::shared_ptr<PoolMapping> m;
    {
      std::unique_lock<std::mutex> lock(mu_);
      if (closed_)
        throw StateError("wait_for_frame on pool '" + expected_.name + "' after cleanup()");
      cv_.wait_until(lock, deadline, [&] { return closed_ || mapping_ != nullptr; });
      if (closed_) return false;
      m = mapping_;
    }
    if (!m) return false;
    const uint64_t seen = last_seen_.load(std::memory_order_relaxed);
    const auto left = deadline - std::chrono::steady_clock::now();
    if (left <= decltype(left)::zero()) return false;
    const uint64_t latest =
        sleep_for_seq_after(*m, seen, std::min<std::chrono::nanoseconds>(left, kSlice));
    if (latest > seen) {
      note_seen(latest);
      return true;
    }
    if (futex_stop_.load(std::memory_order_acquire)) return false;
  }
}

void Consumer::Impl::set_on_new_data(NewDataCallback cb) {
  std::lock_guard<std::mutex> lock(mu_);
  on_new_data_ = cb ? std::make_shared<const NewDataCallback>(std::move(cb)) : nullptr;
}

void Consumer::Impl::set_on_lifecycle(LifecycleCallback cb) {
  std::lock_guard<std::mutex> lock(mu_);
  on_lifecycle_ = cb ? std::make_shared<const LifecycleCallback>(std::move(cb)) : nullptr;
}

ConsumerStatus Consumer::Impl::status() const {
  std::lock_guard<std::mutex> lock(mu_);
  ConsumerStatus s;
  s.state = closed_ ? PoolState::kClosed : state_;
  s.producer_pid = producer_pid_;
  s.latest_seq = mapping_ ? mapping_->header().latest_seq.load(std::memory_order_acquire) : 0;
  // The daemon's count, less the frames read from the ring instead.
  const uint64_t recovered = recovered_.load(std::memory_order_relaxed);
  s.dropped = dropped_ > recovered ? dropped_ - recovered : 0;
  s.skipped = skipped_.load(std::memory_order_relaxed);
  s.connected = connected_;
  s.error = error_;
  return s;
}

PoolMetadata Consumer::Impl::metadata() const {
  std::lock_guard<std::mutex> lock(mu_);
  return pool_md_;
}

uint64_t Consumer::Impl::sleep_for_seq_after(const PoolMapping& m, uint64_t after,
                                              std::chrono::nanoseconds timeout) {
  sleepers_.fetch_add(1, std::memory_order_seq_cst);
  const uint64_t latest = wait_for_seq_after(m, after, timeout, &futex_stop_);
  sleepers_.fetch_sub(1, std::memory_order_acq_rel);
  return latest;
}

void Consumer::Impl::cleanup() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (closed_) return;
    closed_ = true;
  }
  if (subscription_) subscription_->stop();
  futex_stop_.store(true, std::memory_order_seq_cst);
  std::shared_ptr<PoolMapping> m;
  {
    std::lock_guard<std::mutex> lock(mu_);
    m = mapping_;
    cv_.notify_all();
  }
  // A consumer cannot bump the pool's futex word, so a sleeper about to sleep
  // may miss one wake-up: wake until every sleeper has seen futex_stop_.
  for (int i = 0; m && sleepers_.load(std::memory_order_seq_cst) > 0 && i < 2000; ++i) {
    wake_waiters(*m);
    std::this_thread::sleep_for(std::chrono::microseconds(100));
  }
  if (futex_thread_.joinable()) futex_thread_.join();
  std::lock_guard<std::mutex> lock(mu_);
  mapping_.reset();
  device_.reset();
  state_ = PoolState::kClosed;
  connected_ = false;
}

// ---- Consumer

Consumer::Consumer(PoolMetadata expected, ConsumerOptions options)
    : impl_(std::make_unique<Impl>(std::move(expected), std::move(options))) {}

Consumer Consumer::from_sample(std::string name, const TensorView& sample, uint32_t history_len,
                               ConsumerOptions options) {
  return Consumer(PoolMetadata::from_sample(std::move(name), sample, history_len),
                  std::move(options));
}

Consumer Consumer::attach(std::string name, uint32_t history_len, ConsumerOptions options) {
  DaemonClient daemon(options.socket_path, options.connect_timeout);
  std::optional<PoolInfo> pool = daemon.get_pool(name);
  if (!pool) {
    throw PoolNotFoundError("tensor-ipcd at " + daemon.socket_path() + " has no pool named '" +
                                name + "' (no producer has claimed it, or it was removed)",
                            name);
  }
  const PoolMetadata& md = pool->metadata;
  return Consumer(PoolMetadata::create(std::move(name), md.shape, md.dtype,
                                       history_len != 0 ? history_len : md.history_len,
                                       md.device, md.backend_type),
                  std::move(options));
}

Consumer::~Consumer() = default;
Consumer::Consumer(Consumer&&) noexcept = default;
Consumer& Consumer::operator=(Consumer&&) noexcept = default;

namespace {
Consumer::Impl& checked(const std::unique_ptr<Consumer::Impl>& impl) {
  if (!impl) throw StateError("use of a moved-from Consumer");
  return *impl;
}
}  // namespace

std::optional<Tensor> Consumer::get(size_t count, bool latest_first) {
  return checked(impl_).get(count, latest_first);
}

bool Consumer::get_into(Tensor& out, size_t count, bool latest_first) {
  return checked(impl_).get_into(out, count, latest_first);
}

uint64_t Consumer::read_into(void* dst, size_t bytes, size_t count, bool latest_first) {
  Impl& impl = checked(impl_);
  return impl.read_into(dst, bytes, count, latest_first, impl.default_stream());
}

uint64_t Consumer::read_into(void* dst, size_t bytes, size_t count, bool latest_first,
                             CudaStream stream) {
  return checked(impl_).read_into(dst, bytes, count, latest_first, stream);
}

std::optional<Device> Consumer::device() const { return checked(impl_).device(); }

std::optional<FrameHistory> Consumer::read(size_t count, bool latest_first) {
  return checked(impl_).read(count, latest_first);
}

std::optional<FrameView> Consumer::view() { return checked(impl_).view(); }

bool Consumer::wait_for_frame(std::chrono::nanoseconds timeout) {
  return checked(impl_).wait_for_frame(timeout);
}

void Consumer::set_on_new_data(NewDataCallback callback) {
  checked(impl_).set_on_new_data(std::move(callback));
}

void Consumer::set_on_lifecycle(LifecycleCallback callback) {
  checked(impl_).set_on_lifecycle(std::move(callback));
}

ConsumerStatus Consumer::status() const {
  if (!impl_) {
    ConsumerStatus s;
    s.state = PoolState::kClosed;
    return s;
  }
  return impl_->status();
}

PoolMetadata Consumer::metadata() const { return checked(impl_).metadata(); }

void Consumer::cleanup() {
  if (impl_) impl_->cleanup();
}

}  // namespace tensoripc
