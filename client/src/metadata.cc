#include "tensoripc/metadata.h"

#include "pool/model.h"
#include "tensoripc/error.h"

namespace tensoripc {

PoolMetadata PoolMetadata::create(std::string name, std::vector<int64_t> shape, DType dtype,
                                  uint32_t history_len, std::string device,
                                  std::string backend_type) {
  PoolMetadata md;
  md.name = std::move(name);
  md.shape = std::move(shape);
  md.dtype = dtype;
  md.history_len = history_len;
  md.device = std::move(device);
  md.backend_type = std::move(backend_type);
  md.validate_and_complete();
  return md;
}

PoolMetadata PoolMetadata::from_sample(std::string name, const TensorView& sample,
                                       uint32_t history_len, std::string backend_type) {
  const Device dev = sample.device();
  if (backend_type.empty()) backend_type = dev.kind == MemoryKind::kCuda ? "torch_cuda" : "numpy";
  return create(std::move(name), sample.shape().to_vector(), sample.dtype(), history_len,
                dev.to_string(), std::move(backend_type));
}

uint64_t PoolMetadata::frame_bytes() const { return tensoripc::frame_bytes(*this); }

Device PoolMetadata::memory_device() const { return device_of(*this); }

void PoolMetadata::validate_and_complete() {
  // The daemon applies its own size limit; the client only rejects what no
  // daemon could accept.
  const Status s = complete_metadata(this, PoolLimits::unlimited());
  if (!s.ok()) throw InvalidArgumentError(s.message());
}

bool PoolMetadata::same_identity(const PoolMetadata& other) const {
  return tensoripc::same_identity(*this, other);
}

std::string PoolMetadata::to_string() const { return describe_pool(*this); }

bool operator==(const PoolMetadata& a, const PoolMetadata& b) {
  return equal_but_creator_pid(a, b);
}

}  // namespace tensoripc
