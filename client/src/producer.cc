#include "tensoripc/producer.h"

#include <mutex>

#include "connection.h"
#include "device_frames.h"
#include "lease_keeper.h"
#include "pool/model.h"
#include "tensoripc/error.h"
#include "writer.h"

namespace tensoripc {

// The producer: two parts with one job each.
//   Writer       put() on the caller's thread (the hot path): the frame into
//                the ring and one futex wake; nothing is sent per frame;
//   LeaseKeeper  the claim, and a thread that claims again after a daemon
//                restart (client/src/session_loop.h).
// No lock of one part is held while calling another. The order of cleanup()
// is what makes the end orderly: no more claims, put() closed, then the
// lease ended (the daemon announces the frames written before it ends).
class __attribute__((visibility("hidden"))) Producer::Impl {
 public:
  Impl(PoolMetadata metadata, const ProducerOptions& options);
  ~Impl() { cleanup(); }

  PutResult put(const TensorView& frame, CudaStream stream) { return writer_->put(frame, stream); }
  const std::shared_ptr<Writer>& writer() const { return writer_; }
  void cleanup();

  const PoolMetadata& metadata() const { return granted_; }
  uint64_t latest_seq() const { return writer_->latest_seq(); }
  bool connected() const { return keeper_.connected(); }

 private:
  static PoolMetadata checked(PoolMetadata md);
  // A GPU pool's frames, allocated and exported before the claim (which
  // carries their handles); null for a host pool.
  static std::shared_ptr<DeviceFrames> device_frames(const PoolMetadata& md);

  const PoolMetadata requested_;
  const std::shared_ptr<Connection> conn_;
  // Shared with the loans it hands out, which may outlive the producer.
  const std::shared_ptr<Writer> writer_;
  LeaseKeeper keeper_;
  PoolMetadata granted_;  // written by the constructor, then constant
  std::once_flag cleaned_up_;
};

PoolMetadata Producer::Impl::checked(PoolMetadata md) {
  md.validate_and_complete();
  return md;
}

std::shared_ptr<DeviceFrames> Producer::Impl::device_frames(const PoolMetadata& md) {
  if (md.memory_device().kind != MemoryKind::kCuda) return nullptr;
  if (Status s = check_device_pools(md); !s.ok()) throw_device_status(s);
  auto frames = DeviceFrames::allocate(*device::device_api(), md);
  if (!frames.ok()) throw_device_status(frames.status());
  return std::move(*frames);
}

Producer::Impl::Impl(PoolMetadata metadata, const ProducerOptions& options)
    : requested_(checked(std::move(metadata))),
      conn_(Connection::get(options.socket_path)),
      writer_(std::make_shared<Writer>(requested_, device_frames(requested_), options.cuda_stream)),
      keeper_(conn_, requested_, options, *writer_) {
  if (!conn_->wait_connected(options.connect_timeout)) {
    throw_daemon_unavailable(
        conn_->socket_path(),
        "no connection within " + std::to_string(options.connect_timeout.count()) + " ms");
  }
  granted_ = keeper_.claim_first();
  keeper_.keep();
}

void Producer::Impl::cleanup() {
  std::call_once(cleaned_up_, [this] {
    keeper_.stop();
    writer_->close();
    keeper_.end_lease();
  });
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
  return impl_->put(frame, nullptr);
}

PutResult Producer::put(const TensorView& frame, CudaStream stream) {
  if (!impl_) throw StateError("put on a moved-from Producer");
  return impl_->put(frame, stream);
}

Loan Producer::loan() {
  if (!impl_) throw StateError("loan on a moved-from Producer");
  const Writer::Lent lent = impl_->writer()->lend();
  const PoolMetadata& md = impl_->metadata();
  Loan loan;
  loan.writer_ = impl_->writer();
  loan.data_ = lent.data;
  loan.tensor_ = TensorView(lent.data, md.dtype, Shape(md.shape), lent.device);
  loan.seq_ = lent.seq;
  return loan;
}

// ---- Loan

Loan::~Loan() { abandon(); }

Loan::Loan(Loan&& other) noexcept
    : writer_(std::move(other.writer_)),
      data_(other.data_),
      tensor_(other.tensor_),
      seq_(other.seq_) {}

Loan& Loan::operator=(Loan&& other) noexcept {
  if (this != &other) {
    abandon();
    writer_ = std::move(other.writer_);
    data_ = other.data_;
    tensor_ = other.tensor_;
    seq_ = other.seq_;
  }
  return *this;
}

PutResult Loan::commit(CudaStream stream) {
  if (!writer_) throw StateError("commit of a loan that is not active (committed or abandoned)");
  const std::shared_ptr<Writer> writer = std::move(writer_);
  return writer->commit(seq_, stream);
}

void Loan::abandon() {
  if (!writer_) return;
  const std::shared_ptr<Writer> writer = std::move(writer_);
  writer->abandon(seq_);
}

const PoolMetadata& Producer::metadata() const {
  if (!impl_) throw StateError("metadata() of a moved-from Producer");
  return impl_->metadata();
}

uint64_t Producer::latest_seq() const { return impl_ ? impl_->latest_seq() : 0; }
bool Producer::connected() const { return impl_ && impl_->connected(); }

void Producer::cleanup() {
  if (impl_) impl_->cleanup();
}

}  // namespace tensoripc
