#include "tensoripc/producer.h"

#include <unistd.h>

#include <algorithm>
#include <condition_variable>
#include <mutex>
#include <thread>

#include "common/futex.h"
#include "common/pool_identity.h"
#include "connection.h"
#include "metadata_proto.h"
#include "pool_mapping.h"
#include "producer_session.h"
#include "ring.h"
#include "tensoripc/error.h"

namespace tensoripc {
namespace {
constexpr std::chrono::microseconds kNotifierCoalesce{50};
}  // namespace

// The producer's state. put() runs on the caller's thread under put_mu_; a
// supervisor thread watches the session and re-claims the pool after the
// daemon went away. Sessions are swapped under put_mu_.
class __attribute__((visibility("hidden"))) Producer::Impl {
 public:
  Impl(PoolMetadata metadata, ProducerOptions options);
  ~Impl() { cleanup(); }

  PutResult put(const TensorView& frame);
  void cleanup();

  const PoolMetadata& metadata() const { return granted_md_; }
  uint64_t latest_seq() const;
  bool connected() const { return connected_.load(std::memory_order_acquire); }
  uint64_t notices_dropped() const { return dropped_.load(std::memory_order_relaxed); }

 private:
  enum class ClaimResult { kGranted, kRefused, kRetry };
  // Opens a session and waits for the grant; on success maps the pool (or
  // keeps the mapping when the generation is unchanged) and installs it.
  ClaimResult claim(std::chrono::milliseconds timeout, bool initial);
  void supervise();
  // The header's producer_pid says who writes the ring. The daemon sets it at
  // each grant and clears it when a lease ends; while this producer is
  // disconnected (daemon restart) it writes on and marks the pool its own, so
  // that readers finding a slot mid-write know its writer is alive. Another
  // pid there means another producer was granted the pool meanwhile: two
  // writers would break the seqlock, so put() refuses. put_mu_ held.
  void claim_header_or_throw();
  [[noreturn]] void throw_for_put(const TensorView& frame, const std::string& why) const;

  PoolMetadata requested_;
  PoolMetadata granted_md_;  // written before the supervisor starts, then constant
  const ProducerOptions options_;
  const int32_t self_pid_ = static_cast<int32_t>(::getpid());
  std::shared_ptr<Connection> conn_;
  std::atomic<uint64_t> dropped_{0};
  std::atomic<bool> connected_{false};

  std::mutex put_mu_;  // serialises put(); guards the members below it
  std::shared_ptr<PoolMapping> mapping_;
  std::shared_ptr<ProducerSession> session_;
  uint64_t notify_from_ = 0;  // latest_seq when session_ was installed
  bool closed_ = false;
  std::string failure_;         // set when the topic was lost while reconnecting
  bool failure_taken_ = false;  // ... because another producer holds it
  int failure_holder_pid_ = 0;  // ... this one, as the daemon named it

  std::mutex mu_;  // supervision; guards the members below it
  std::condition_variable cv_;
  bool stopping_ = false;
  uint64_t active_session_id_ = 0;
  uint64_t next_session_id_ = 0;
  bool session_ended_ = false;
  // A claim in progress, cancelled by cleanup().
  std::shared_ptr<ProducerSession> claiming_;
  std::thread supervisor_;

  // The notifier thread turns new frames into publish notices, so gRPC's
  // cost of starting a write lands there and not in put(). It sleeps on a
  // futex word of its own, which put() bumps and wakes after the pool's:
  // sharing the pool's word would wake it together with (and often ahead
  // of) the futex consumers, costing them ~10 us on a 2-core machine.
  void run_notifier();
  // Waits until latest_seq > after, the timeout, or attention.
  uint64_t wait_for_put(const PoolMapping& m, uint64_t after, std::chrono::milliseconds timeout);
  void wake_notifier();
  std::atomic<uint32_t> notify_word_{0};
  std::atomic<uint32_t> notify_waiting_{0};
  std::atomic<uint64_t> swaps_{0};  // bumped whenever mapping_ or session_ changes
  std::atomic<bool> notifier_stop_{false};
  std::atomic<bool> notifier_attention_{false};  // stop, or a new session: look up
  std::thread notifier_;
};

Producer::Impl::Impl(PoolMetadata metadata, ProducerOptions options)
    : requested_(std::move(metadata)), options_(std::move(options)) {
  requested_.validate_and_complete();
  if (requested_.memory_device().kind != MemoryKind::kHost) {
    throw InvalidArgumentError("pool '" + requested_.name + "' is on " + requested_.device +
                               "; this build of libtensoripc-client publishes host (cpu) pools "
                               "only");
  }
  conn_ = Connection::get(options_.socket_path);
  if (!conn_->wait_connected(options_.connect_timeout)) {
    throw_daemon_unavailable(
        conn_->socket_path(),
        "no connection within " + std::to_string(options_.connect_timeout.count()) + " ms");
  }
  claim(options_.connect_timeout, /*initial=*/true);
  notifier_ = std::thread([this] { run_notifier(); });
  if (options_.reconnect) supervisor_ = std::thread([this] { supervise(); });
}

Producer::Impl::ClaimResult Producer::Impl::claim(std::chrono::milliseconds timeout, bool initial) {
  v1::ClaimPool c;
  *c.mutable_metadata() = to_proto(requested_);
  c.set_pid(::getpid());
  uint64_t id;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (stopping_) return ClaimResult::kRefused;
    id = ++next_session_id_;
  }
  auto session = std::make_shared<ProducerSession>(
      conn_->stub(), std::move(c), options_.keep_last == 0 ? 10 : options_.keep_last, &dropped_,
      [this, id] {
        std::lock_guard<std::mutex> lock(mu_);
        if (id == active_session_id_) {
          session_ended_ = true;
          connected_.store(false, std::memory_order_release);
          cv_.notify_all();
        }
      });
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (stopping_) return ClaimResult::kRefused;  // cleanup() came first
    claiming_ = session;
  }
  session->start();
  v1::PoolGranted granted;
  const auto outcome = session->wait_granted(timeout, &granted);
  {
    std::lock_guard<std::mutex> lock(mu_);
    claiming_.reset();
  }
  if (outcome != ProducerSession::Outcome::kGranted) {
    session->cancel();
    session->wait_ended();
    const grpc::Status st = session->final_status();
    if (outcome == ProducerSession::Outcome::kTimeout) {
      if (initial) {
        throw_daemon_unavailable(conn_->socket_path(), "no answer to the claim of pool '" +
                                                           requested_.name + "' within " +
                                                           std::to_string(timeout.count()) + " ms");
      }
      return ClaimResult::kRetry;
    }
    if (initial) throw_for_status(st, requested_.name, conn_->socket_path());
    switch (st.error_code()) {
      case grpc::StatusCode::UNAVAILABLE:
      case grpc::StatusCode::CANCELLED:
      case grpc::StatusCode::DEADLINE_EXCEEDED:
      case grpc::StatusCode::UNKNOWN:
      case grpc::StatusCode::INTERNAL:
        return ClaimResult::kRetry;
      default: {
        std::lock_guard<std::mutex> lock(put_mu_);
        failure_ = "pool '" + requested_.name +
                   "': the daemon refused the re-claim after a reconnect: " + st.error_message();
        failure_taken_ = st.error_code() == grpc::StatusCode::ALREADY_EXISTS;
        failure_holder_pid_ = failure_taken_ ? holder_pid_from(st.error_message()) : 0;
        return ClaimResult::kRefused;
      }
    }
  }

  // Granted: the daemon's metadata must be what we asked for.
  const std::string mismatch = describe_identity_mismatch(to_proto(requested_), granted.metadata());
  std::shared_ptr<PoolMapping> mapping;
  {
    std::lock_guard<std::mutex> lock(put_mu_);
    mapping = mapping_;
  }
  std::string error;
  if (!mismatch.empty()) {
    error = "pool '" + requested_.name + "': the daemon granted another pool: " + mismatch;
  } else if (!mapping || mapping->generation() != granted.layout().generation() ||
             mapping->shm_name() != granted.layout().shm_name()) {
    auto opened =
        PoolMapping::open(granted.layout(), granted.metadata(), PoolMapping::Role::kProducer);
    if (opened.ok()) {
      mapping = std::move(*opened);
    } else {
      error = opened.status().message();
    }
  }
  if (!error.empty()) {
    session->finish(std::chrono::milliseconds(500));
    if (initial) throw Error(error);
    std::lock_guard<std::mutex> lock(put_mu_);
    failure_ = error;
    return ClaimResult::kRefused;
  }

  if (initial) granted_md_ = from_proto(granted.metadata());
  std::shared_ptr<ProducerSession> old;
  {
    std::lock_guard<std::mutex> lock(put_mu_);
    mapping_ = std::move(mapping);
    old = std::move(session_);
    session_ = session;
    // Frames put while disconnected are in the pool; the daemon needs no
    // notices for them, only for what comes after the grant.
    notify_from_ = mapping_->header().latest_seq.load(std::memory_order_acquire);
    swaps_.fetch_add(1, std::memory_order_release);
    notifier_attention_.store(true, std::memory_order_release);
  }
  wake_notifier();  // it picks up the new pair now
  {
    std::lock_guard<std::mutex> lock(mu_);
    active_session_id_ = id;
    session_ended_ = session->ended();
    connected_.store(!session_ended_, std::memory_order_release);
    cv_.notify_all();
  }
  if (old) old->wait_ended();  // already over: its end is why we re-claimed
  return ClaimResult::kGranted;
}

void Producer::Impl::supervise() {
  for (;;) {
    {
      std::unique_lock<std::mutex> lock(mu_);
      cv_.wait(lock, [&] { return stopping_ || session_ended_; });
      if (stopping_) return;
      session_ended_ = false;
    }
    auto backoff = std::chrono::milliseconds(50);
    for (;;) {
      {
        std::unique_lock<std::mutex> lock(mu_);
        if (cv_.wait_for(lock, backoff, [&] { return stopping_; })) return;
      }
      backoff = std::min(backoff * 2, options_.reconnect_backoff_max);
      if (!conn_->wait_connected(std::chrono::milliseconds(200))) continue;
      const ClaimResult r = claim(options_.connect_timeout, /*initial=*/false);
      if (r == ClaimResult::kGranted) break;
      if (r == ClaimResult::kRefused) return;
    }
  }
}

void Producer::Impl::throw_for_put(const TensorView& frame, const std::string& why) const {
  throw InvalidArgumentError("put on pool '" + requested_.name + "': " + why +
                             "; nothing was written");
}

PutResult Producer::Impl::put(const TensorView& frame) {
  if (frame.dtype() != requested_.dtype) {
    throw_for_put(frame, "frame dtype is " + std::string(dtype_name(frame.dtype())) +
                             ", the pool holds " + std::string(requested_.dtype_str()));
  }
  const Shape& shape = frame.shape();
  bool same_shape = shape.ndim() == requested_.shape.size();
  for (size_t i = 0; same_shape && i < shape.ndim(); ++i) {
    same_shape = shape[i] == requested_.shape[i];
  }
  if (!same_shape) {
    throw_for_put(frame, "frame shape is " + shape.to_string() + ", the pool's frames are " +
                             Shape(requested_.shape).to_string());
  }
  if (frame.device().kind != MemoryKind::kHost) {
    throw_for_put(frame, "frame is in " + frame.device().to_string() +
                             " memory, the pool is a host (cpu) pool");
  }
  if (frame.data() == nullptr) throw_for_put(frame, "frame has no data (null pointer)");

  std::lock_guard<std::mutex> lock(put_mu_);
  if (closed_) {
    throw StateError("put on pool '" + requested_.name + "' after cleanup()");
  }
  if (!failure_.empty()) {
    if (failure_taken_) throw TopicTakenError(failure_, requested_.name, failure_holder_pid_);
    throw StateError(failure_);
  }
  claim_header_or_throw();
  const WrittenFrame w = write_frame(*mapping_, frame.data());
  // After the pool's own wake, so futex consumers go first. Same protocol
  // as write_frame's: bump, then look for a waiter.
  notify_word_.fetch_add(1, std::memory_order_seq_cst);
  if (notify_waiting_.load(std::memory_order_seq_cst) != 0) futex_wake_all(&notify_word_);
  return PutResult{w.slot, w.seq, w.timestamp_ns};
}

void Producer::Impl::claim_header_or_throw() {
  std::atomic<int32_t>& pid = mapping_->header().producer_pid;
  int32_t holder = pid.load(std::memory_order_acquire);
  if (holder == self_pid_) return;
  if (holder == 0 && pid.compare_exchange_strong(holder, self_pid_, std::memory_order_acq_rel)) {
    return;
  }
  throw TopicTakenError("topic '" + requested_.name + "' was granted to producer pid " +
                            std::to_string(holder) +
                            " while this producer was reconnecting; nothing was written",
                        requested_.name, holder);
}

void Producer::Impl::wake_notifier() {
  notify_word_.fetch_add(1, std::memory_order_seq_cst);
  futex_wake_all(&notify_word_);
}

uint64_t Producer::Impl::wait_for_put(const PoolMapping& m, uint64_t after,
                                      std::chrono::milliseconds timeout) {
  const PoolHeader& h = m.header();
  const uint32_t word = notify_word_.load(std::memory_order_seq_cst);
  uint64_t latest = h.latest_seq.load(std::memory_order_acquire);
  if (latest > after || notifier_attention_.load(std::memory_order_acquire)) return latest;
  notify_waiting_.fetch_add(1, std::memory_order_seq_cst);
  latest = h.latest_seq.load(std::memory_order_seq_cst);
  if (latest <= after && !notifier_attention_.load(std::memory_order_seq_cst)) {
    futex_wait(&notify_word_, word, std::chrono::nanoseconds(timeout).count());
    latest = h.latest_seq.load(std::memory_order_acquire);
  }
  notify_waiting_.fetch_sub(1, std::memory_order_seq_cst);
  return latest;
}

void Producer::Impl::run_notifier() {
  // Behind the consumers: on a small machine the thread woken with them by
  // the same futex wake must not take a core a futex consumer is waiting for.
  lower_thread_priority();
  std::shared_ptr<PoolMapping> m;
  std::shared_ptr<ProducerSession> session;
  uint64_t seen_swaps = ~uint64_t{0};
  uint64_t last_sent = 0;
  const uint64_t cap = options_.keep_last == 0 ? 10 : options_.keep_last;
  for (;;) {
    // Once stopping, one last pass sends what is left: cleanup() then
    // half-closes the stream, so the frames put just before it are announced.
    notifier_attention_.store(false, std::memory_order_seq_cst);
    const bool stopping = notifier_stop_.load(std::memory_order_seq_cst);
    if (swaps_.load(std::memory_order_acquire) != seen_swaps) {
      std::lock_guard<std::mutex> lock(put_mu_);
      seen_swaps = swaps_.load(std::memory_order_acquire);
      m = mapping_;
      session = session_;
      last_sent = notify_from_;
    }
    if (!m) return;
    if (!session || session->ended()) {
      if (stopping) return;
      // Disconnected: sleep until the supervisor installs a new session
      // (no futex registration, so put() pays no wake meanwhile).
      std::unique_lock<std::mutex> lock(mu_);
      cv_.wait_for(lock, std::chrono::milliseconds(100),
                   [&] { return notifier_stop_.load() || swaps_.load() != seen_swaps; });
      continue;
    }
    const uint64_t latest = stopping ? m->header().latest_seq.load(std::memory_order_acquire)
                                     : wait_for_put(*m, last_sent, std::chrono::milliseconds(200));
    if (latest > last_sent) {
      const uint64_t first = std::max(last_sent + 1, latest >= cap ? latest - cap + 1 : 1);
      dropped_.fetch_add(first - (last_sent + 1), std::memory_order_relaxed);
      for (uint64_t seq = first; seq <= latest; ++seq) {
        const uint64_t slot_index = seq % m->slot_count();
        const SlotHeader& slot = m->slot(slot_index);
        // seq and time read as one pair, under the slot's seqlock.
        const uint64_t begin = slot_read_begin(slot);
        const int64_t ts = slot.timestamp_ns.load(std::memory_order_relaxed);
        const uint64_t frame_seq = slot.frame_seq.load(std::memory_order_relaxed);
        if (!slot_read_valid(slot, begin) || frame_seq != seq) {
          dropped_.fetch_add(1, std::memory_order_relaxed);  // already overwritten
          continue;
        }
        session->publish(WrittenFrame{seq, slot_index, ts});
      }
      last_sent = latest;
      // A short nap before sleeping on the futex again: puts arriving back
      // to back within it are sent as one batch and cost their caller no
      // wake at all. A frame that comes alone (camera rates) finds the
      // notifier waiting and is unaffected.
      if (!stopping) std::this_thread::sleep_for(kNotifierCoalesce);
    }
    if (stopping) return;
  }
}

uint64_t Producer::Impl::latest_seq() const {
  auto* self = const_cast<Impl*>(this);
  std::lock_guard<std::mutex> lock(self->put_mu_);
  return mapping_ ? mapping_->header().latest_seq.load(std::memory_order_acquire) : 0;
}

void Producer::Impl::cleanup() {
  std::shared_ptr<ProducerSession> claiming;
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
    claiming = claiming_;
    cv_.notify_all();
  }
  // Outside mu_: gRPC may run the session's reactions (and so on_end, which
  // takes mu_) on the thread that cancels.
  if (claiming) claiming->cancel();
  if (supervisor_.joinable()) supervisor_.join();
  notifier_stop_.store(true, std::memory_order_release);
  notifier_attention_.store(true, std::memory_order_release);
  wake_notifier();
  if (notifier_.joinable()) notifier_.join();
  std::shared_ptr<ProducerSession> session;
  {
    std::lock_guard<std::mutex> lock(put_mu_);
    if (closed_) return;
    closed_ = true;
    session = std::move(session_);
    mapping_.reset();
  }
  connected_.store(false, std::memory_order_release);
  if (session) session->finish(std::chrono::milliseconds(1000));
}

// ---- Producer

Producer::Producer(PoolMetadata metadata, ProducerOptions options)
    : impl_(std::make_unique<Impl>(std::move(metadata), std::move(options))) {}

Producer Producer::from_sample(std::string name, const TensorView& sample, uint32_t history_len,
                               ProducerOptions options) {
  return Producer(PoolMetadata::from_sample(std::move(name), sample, history_len),
                  std::move(options));
}

Producer::~Producer() = default;
Producer::Producer(Producer&&) noexcept = default;
Producer& Producer::operator=(Producer&&) noexcept = default;

PutResult Producer::put(const TensorView& frame) {
  if (!impl_) throw StateError("put on a moved-from Producer");
  return impl_->put(frame);
}

const PoolMetadata& Producer::metadata() const {
  if (!impl_) throw StateError("metadata() of a moved-from Producer");
  return impl_->metadata();
}

uint64_t Producer::latest_seq() const { return impl_ ? impl_->latest_seq() : 0; }
bool Producer::connected() const { return impl_ && impl_->connected(); }
uint64_t Producer::notices_dropped() const { return impl_ ? impl_->notices_dropped() : 0; }

void Producer::cleanup() {
  if (impl_) impl_->cleanup();
}

}  // namespace tensoripc
