#include "tensoripc/metadata.h"

#include "common/pool_identity.h"
#include "metadata_proto.h"
#include "tensoripc/error.h"

namespace tensoripc {

v1::PoolMetadata to_proto(const PoolMetadata& md) {
  v1::PoolMetadata p;
  p.set_name(md.name);
  for (int64_t d : md.shape) p.add_shape(d);
  p.set_dtype_str(std::string(md.dtype_str()));
  p.set_backend_type(md.backend_type);
  p.set_history_len(md.history_len);
  p.set_device(md.device);
  p.set_element_size(md.element_size);
  p.set_total_size(md.total_size);
  p.set_shm_name(md.shm_name);
  p.set_creator_pid(md.creator_pid);
  p.set_payload_json(md.payload_json);
  return p;
}

PoolMetadata from_proto(const v1::PoolMetadata& p) {
  PoolMetadata md;
  md.name = p.name();
  md.shape.assign(p.shape().begin(), p.shape().end());
  const auto dtype = parse_dtype(p.dtype_str());
  if (!dtype) {
    throw InvalidArgumentError("pool '" + p.name() + "' has dtype '" + p.dtype_str() +
                               "', which this library does not know");
  }
  md.dtype = *dtype;
  md.backend_type = p.backend_type();
  md.history_len = p.history_len();
  md.device = p.device();
  md.element_size = p.element_size();
  md.total_size = p.total_size();
  md.shm_name = p.shm_name();
  md.creator_pid = p.creator_pid();
  md.payload_json = p.payload_json();
  return md;
}

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

uint64_t PoolMetadata::frame_bytes() const {
  uint64_t n = dtype_itemsize(dtype);
  for (int64_t d : shape) n *= static_cast<uint64_t>(d < 0 ? 0 : d);
  return n;
}

Device PoolMetadata::memory_device() const {
  const v1::PoolMetadata p = to_proto(*this);
  if (memory_kind_of(p) != v1::MEMORY_KIND_CUDA) return Device::host();
  return Device::cuda(cuda_ordinal_of(p));
}

void PoolMetadata::validate_and_complete() {
  v1::PoolMetadata p = to_proto(*this);
  // The daemon applies its own size limit; the client only rejects what no
  // daemon could accept.
  const PoolLimits unlimited{~0ULL};
  const Status s = tensoripc::validate_and_complete(&p, unlimited);
  if (!s.ok()) throw InvalidArgumentError(s.message());
  *this = from_proto(p);
}

bool PoolMetadata::same_identity(const PoolMetadata& other) const {
  return tensoripc::same_identity(to_proto(*this), to_proto(other));
}

std::string PoolMetadata::to_string() const {
  std::string s = "pool '" + name + "': " + Shape(shape).to_string() + " " +
                  std::string(dtype_str()) + " x " + std::to_string(history_len) + " on " +
                  (device.empty() ? "cpu" : device);
  return s;
}

bool operator==(const PoolMetadata& a, const PoolMetadata& b) {
  return a.name == b.name && a.shape == b.shape && a.dtype == b.dtype &&
         a.backend_type == b.backend_type && a.history_len == b.history_len &&
         a.device == b.device && a.element_size == b.element_size && a.total_size == b.total_size &&
         a.shm_name == b.shm_name && a.payload_json == b.payload_json;
}

}  // namespace tensoripc
