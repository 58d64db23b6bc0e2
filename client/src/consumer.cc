#include "tensoripc/consumer.h"

#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <cstdio>
#include <exception>
#include <mutex>
#include <thread>

#include "buffer_pool.h"
#include "common/pool_identity.h"
#include "connection.h"
#include "metadata_proto.h"
#include "pool_mapping.h"
#include "ring.h"
#include "subscription.h"
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
                        std::shared_ptr<const void> mapping) {
    FrameView v;
    v.tensor_ = tensor;
    v.seq_ = f.seq;
    v.timestamp_ns_ = f.timestamp_ns;
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

// The consumer's state. The subscription thread applies stream events under
// mu_; readers copy the current mapping (a shared_ptr) under mu_ and then
// read shared memory with no lock held. An optional futex thread drives the
// callback on the futex path.
class __attribute__((visibility("hidden"))) Consumer::Impl : public Subscription::Handler {
 public:
  Impl(PoolMetadata expected, ConsumerOptions options);
  ~Impl() override { cleanup(); }

  std::optional<FrameHistory> read(size_t count, bool latest_first);
  std::optional<Tensor> get(size_t count, bool latest_first);
  bool get_into(Tensor& out, size_t count, bool latest_first);
  uint64_t read_into(void* dst, size_t bytes, size_t count, bool latest_first);
  std::optional<FrameView> view();
  bool wait_for_frame(std::chrono::nanoseconds timeout);
  void set_on_new_data(NewDataCallback cb);
  void set_on_lifecycle(LifecycleCallback cb);
  ConsumerStatus status() const;
  PoolMetadata metadata() const;
  void cleanup();

  // Subscription::Handler
  void on_event(const v1::SubscribeEvent& event) override;
  bool on_stream_end(const grpc::Status& status) override;

 private:
  // The mapping to read, or null when there is nothing to read; throws when
  // the consumer is closed or in error.
  std::shared_ptr<PoolMapping> current_mapping(const char* what) const;
  void on_attached(const v1::PoolAttached& attached);
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
  // the frame as skipped when it is no longer in the ring.
  void deliver(const PoolMapping& m, uint64_t seq, int64_t ts, Frame& buf);
  void run_futex_thread();

  PoolMetadata expected_;
  v1::PoolMetadata expected_proto_;
  Shape frame_shape_;  // expected_.shape, made once
  const ConsumerOptions options_;
  std::shared_ptr<Connection> conn_;
  std::shared_ptr<BufferPool> buffers_ = BufferPool::create();
  std::atomic<uint64_t> last_seen_{0};
  std::atomic<uint64_t> skipped_{0};  // ConsumerStatus::skipped
  std::atomic<bool> futex_stop_{false};

  mutable std::mutex mu_;
  std::condition_variable cv_;  // mapping changes, first event
  PoolState state_ = PoolState::kWaitingForProducer;
  std::shared_ptr<PoolMapping> mapping_;
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

Consumer::Impl::Impl(PoolMetadata expected, ConsumerOptions options)
    : expected_(std::move(expected)), options_(std::move(options)) {
  expected_.validate_and_complete();
  if (expected_.memory_device().kind != MemoryKind::kHost) {
    throw InvalidArgumentError("pool '" + expected_.name + "' is on " + expected_.device +
                               "; this build of libtensoripc-client reads host (cpu) pools only");
  }
  expected_proto_ = to_proto(expected_);
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
  v1::SubscribeRequest req;
  req.set_name(expected_.name);
  req.set_keep_last(options_.keep_last);
  req.set_pid(::getpid());
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

void Consumer::Impl::on_event(const v1::SubscribeEvent& ev) {
  bool first;
  {
    std::lock_guard<std::mutex> lock(mu_);
    dropped_ = ev.dropped();
    connected_ = true;
    first = !first_done_;
  }
  switch (ev.event_case()) {
    case v1::SubscribeEvent::kAttached:
      on_attached(ev.attached());
      break;
    case v1::SubscribeEvent::kWaiting:
      set_state(PoolState::kWaitingForProducer, 0, "");
      break;
    case v1::SubscribeEvent::kFrame: {
      if (first) break;
      std::shared_ptr<PoolMapping> m;
      {
        std::lock_guard<std::mutex> lock(mu_);
        if (options_.notify != NotifyPath::kStream || !on_new_data_) break;
        m = mapping_;
      }
      if (m) deliver(*m, ev.frame().seq(), ev.frame().timestamp_ns(), stream_frame_);
      break;
    }
    case v1::SubscribeEvent::kProducerGone: {
      PoolState s;
      {
        std::lock_guard<std::mutex> lock(mu_);
        producer_pid_ = 0;
        s = mapping_ ? PoolState::kProducerGone : state_;
      }
      set_state(s, ev.producer_gone().pid(), "");
      break;
    }
    case v1::SubscribeEvent::kRemoved: {
      std::shared_ptr<PoolMapping> old;
      {
        std::lock_guard<std::mutex> lock(mu_);
        old = std::move(mapping_);
        producer_pid_ = 0;
      }
      if (old) wake_waiters(*old);
      set_state(PoolState::kRemoved, 0, ev.removed().reason());
      break;
    }
    default:
      break;
  }
}

void Consumer::Impl::on_attached(const v1::PoolAttached& a) {
  bool first;
  std::shared_ptr<PoolMapping> current;
  {
    std::lock_guard<std::mutex> lock(mu_);
    first = !first_done_;
    current = mapping_;
  }
  std::string error;
  bool mismatch = false;
  const std::string diff = describe_identity_mismatch(expected_proto_, a.metadata());
  std::shared_ptr<PoolMapping> mapping = current;
  if (!diff.empty()) {
    mismatch = true;
    error = "pool '" + expected_.name + "' does not match what this consumer expects: " + diff +
            " (expected " + expected_.to_string() + ")";
  } else if (!current || current->generation() != a.layout().generation() ||
             current->shm_name() != a.layout().shm_name()) {
    auto opened = PoolMapping::open(a.layout(), a.metadata(), PoolMapping::Role::kConsumer);
    if (opened.ok()) {
      mapping = std::move(*opened);
    } else {
      error = opened.status().message();
    }
  }
  if (!error.empty()) {
    if (first) {
      fail_first(mismatch ? std::make_exception_ptr(MetadataMismatchError(error))
                          : std::make_exception_ptr(Error(error)));
      return;
    }
    {
      std::lock_guard<std::mutex> lock(mu_);
      mapping_.reset();
      error_ = error;
    }
    if (current) wake_waiters(*current);
    set_state(PoolState::kError, a.producer_pid(), error);
    return;
  }
  PoolMetadata md;
  try {
    md = from_proto(a.metadata());
  } catch (const Error& e) {
    if (first) fail_first(std::current_exception());
    return;
  }
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (mapping != current) last_seen_.store(0, std::memory_order_relaxed);
    mapping_ = mapping;
    pool_md_ = std::move(md);
    producer_pid_ = a.producer_pid();
    error_.clear();
  }
  if (current && current != mapping) wake_waiters(*current);
  set_state(a.producer_pid() != 0 ? PoolState::kLive : PoolState::kProducerGone, a.producer_pid(),
            "");
}

bool Consumer::Impl::on_stream_end(const grpc::Status& status) {
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
  return options_.reconnect && status.error_code() != grpc::StatusCode::INVALID_ARGUMENT;
}

void Consumer::Impl::deliver(const PoolMapping& m, uint64_t seq, int64_t ts, Frame& buf) {
  std::shared_ptr<const NewDataCallback> cb;
  {
    std::lock_guard<std::mutex> lock(mu_);
    cb = on_new_data_;
  }
  if (!cb || !*cb) return;
  void* dst = nullptr;
  if (options_.callback_reads_frame) {
    if (buf.tensor.empty() || buf.tensor.nbytes() != m.frame_size()) {
      buf.tensor = Tensor(expected_.dtype, frame_shape_);
    }
    dst = buf.tensor.data();
  }
  // Even when the data is not copied: the futex path knows only the seq, and
  // the slot's stamp is the frame's only if read under the seqlock.
  if (read_frame(m, seq, dst, &ts) != ReadStatus::kOk) {  // gone already
    skipped_.fetch_add(1, std::memory_order_relaxed);
    return;
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
}

void Consumer::Impl::run_futex_thread() {
  std::shared_ptr<PoolMapping> m;
  uint64_t delivered = 0;
  while (!futex_stop_.load(std::memory_order_acquire)) {
    {
      std::unique_lock<std::mutex> lock(mu_);
      cv_.wait(lock, [&] { return futex_stop_.load() || mapping_ != nullptr; });
      if (futex_stop_.load()) return;
      if (mapping_ != m) {
        m = mapping_;
        // Frames from before this consumer attached are history, not news.
        delivered = m->header().latest_seq.load(std::memory_order_acquire);
      }
    }
    const uint64_t latest =
        wait_for_seq_after(*m, delivered, std::chrono::milliseconds(200), &futex_stop_);
    if (latest <= delivered) continue;
    const uint64_t keep =
        std::min<uint64_t>(options_.keep_last == 0 ? 10 : options_.keep_last, m->slot_count());
    // More than keep_last behind: the oldest are skipped, as the daemon
    // drops the oldest events of a stream consumer that falls behind.
    const uint64_t first = std::max(delivered + 1, latest >= keep ? latest - keep + 1 : 1);
    skipped_.fetch_add(first - (delivered + 1), std::memory_order_relaxed);
    for (uint64_t s = first; s <= latest && !futex_stop_.load(std::memory_order_relaxed); ++s) {
      deliver(*m, s, 0, futex_frame_);
    }
    delivered = latest;
  }
}

std::shared_ptr<PoolMapping> Consumer::Impl::current_mapping(const char* what) const {
  std::lock_guard<std::mutex> lock(mu_);
  if (closed_)
    throw StateError(std::string(what) + " on pool '" + expected_.name + "' after cleanup()");
  if (state_ == PoolState::kError) throw StateError(error_);
  return mapping_;
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
  const std::shared_ptr<PoolMapping> m = current_mapping("read");
  if (!m) return std::nullopt;
  std::shared_ptr<void> storage = buffers_->acquire(count * m->frame_size());
  FrameHistory h;
  h.seqs.resize(count);
  h.timestamps_ns.resize(count);
  const uint64_t latest =
      read_history(*m, count, latest_first, storage.get(), h.seqs.data(), h.timestamps_ns.data());
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
  const std::shared_ptr<PoolMapping> m = current_mapping("get");
  if (!m) return std::nullopt;
  std::shared_ptr<void> storage = buffers_->acquire(count * m->frame_size());
  const uint64_t latest = read_history(*m, count, latest_first, storage.get(), nullptr, nullptr);
  if (latest == 0) return std::nullopt;
  note_seen(latest);
  void* data = storage.get();
  std::optional<Tensor> out;
  out.emplace(Tensor::adopt(std::move(storage), data, expected_.dtype, result_shape(count)));
  return out;
}

bool Consumer::Impl::get_into(Tensor& out, size_t count, bool latest_first) {
  check_history_len("get_into", count);
  const std::shared_ptr<PoolMapping> m = current_mapping("get_into");
  // latest_seq never goes back to 0 in a mapping: past this check the read
  // below finds a frame, so `out` is only replaced when it gets one.
  if (!m || m->header().latest_seq.load(std::memory_order_acquire) == 0) return false;
  const size_t bytes = count * m->frame_size();
  if (out.empty() || out.dtype() != expected_.dtype || out.nbytes() != bytes ||
      out.shape() != result_shape(count)) {
    // Fully overwritten by the read: no zero-fill.
    std::shared_ptr<void> storage = allocate_buffer(bytes);
    void* data = storage.get();
    out = Tensor::adopt(std::move(storage), data, expected_.dtype, result_shape(count));
  }
  const uint64_t latest = read_history(*m, count, latest_first, out.data(), nullptr, nullptr);
  note_seen(latest);
  return latest != 0;
}

uint64_t Consumer::Impl::read_into(void* dst, size_t bytes, size_t count, bool latest_first) {
  check_history_len("read_into", count);
  const std::shared_ptr<PoolMapping> m = current_mapping("read_into");
  if (!m) return 0;
  if (dst == nullptr || bytes < count * m->frame_size()) {
    throw InvalidArgumentError(
        "read_into on pool '" + expected_.name + "': " + std::to_string(count) + " frame(s) of " +
        std::to_string(m->frame_size()) + " bytes need " + std::to_string(count * m->frame_size()) +
        " bytes; the destination " +
        (dst == nullptr ? std::string("is null") : "holds " + std::to_string(bytes)));
  }
  const uint64_t latest = read_history(*m, count, latest_first, dst, nullptr, nullptr);
  if (latest != 0) note_seen(latest);
  return latest;
}

std::optional<FrameView> Consumer::Impl::view() {
  std::shared_ptr<PoolMapping> m = current_mapping("view");
  if (!m) return std::nullopt;
  const LatestFrame f = locate_latest(*m);
  if (f.seq == 0) return std::nullopt;
  note_seen(f.seq);
  TensorView t(m->frame(f.slot), expected_.dtype, frame_shape_);
  const SlotHeader* slot = &m->slot(f.slot);
  return FrameViewAccess::make(t, f, slot, std::move(m));
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
    const uint64_t latest = wait_for_seq_after(
        *m, seen, std::min<std::chrono::nanoseconds>(left, kSlice), &futex_stop_);
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
  s.dropped = dropped_;
  s.skipped = skipped_.load(std::memory_order_relaxed);
  s.connected = connected_;
  s.error = error_;
  return s;
}

PoolMetadata Consumer::Impl::metadata() const {
  std::lock_guard<std::mutex> lock(mu_);
  return pool_md_;
}

void Consumer::Impl::cleanup() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (closed_) return;
    closed_ = true;
  }
  if (subscription_) subscription_->stop();
  futex_stop_.store(true, std::memory_order_release);
  std::shared_ptr<PoolMapping> m;
  {
    std::lock_guard<std::mutex> lock(mu_);
    m = mapping_;
    cv_.notify_all();
  }
  if (m) wake_waiters(*m);
  if (futex_thread_.joinable()) futex_thread_.join();
  std::lock_guard<std::mutex> lock(mu_);
  mapping_.reset();
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

Consumer::~Consumer() = default;
Consumer::Consumer(Consumer&&) noexcept = default;
Consumer& Consumer::operator=(Consumer&&) noexcept = default;

namespace {
Consumer::Impl& checked(const std::unique_ptr<Consumer::Impl>& impl) {
  if (!impl) throw StateError("use of a moved-from Consumer");
  return *impl;
}
}  // namespace

std::optional<Tensor> Consumer::get(size_t history_len, bool latest_first) {
  return checked(impl_).get(history_len, latest_first);
}

bool Consumer::get_into(Tensor& out, size_t history_len, bool latest_first) {
  return checked(impl_).get_into(out, history_len, latest_first);
}

uint64_t Consumer::read_into(void* dst, size_t bytes, size_t history_len, bool latest_first) {
  return checked(impl_).read_into(dst, bytes, history_len, latest_first);
}

std::optional<FrameHistory> Consumer::read(size_t history_len, bool latest_first) {
  return checked(impl_).read(history_len, latest_first);
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
