// PoolMetadata: what a pool is: its name (the topic), the shape and dtype of
// one frame, how many frames the ring keeps, where they live, and what the
// daemon fills in. The same fields as Python's tensor_ipc.PoolMetadata and the
// wire's tensoripc.v1.PoolMetadata; made from shape + dtype, or from a sample
// tensor (Python's MetadataCreator).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "tensoripc/dtype.h"
#include "tensoripc/export.h"
#include "tensoripc/tensor.h"

namespace tensoripc {

// Value type; thread-compatible. A producer's metadata says what it will
// publish; a consumer's says what it expects to find (checked on attach).
struct TENSORIPC_EXPORT PoolMetadata {
  std::string name;            // topic: [A-Za-z0-9_][A-Za-z0-9_.:-]{0,127}
  std::vector<int64_t> shape;  // one frame's shape; [] is a scalar
  DType dtype = DType::kFloat32;
  std::string backend_type = "numpy";  // "numpy", "torch", "torch_cuda"
  uint32_t history_len = 1;            // frames kept in the ring
  std::string device = "cpu";          // "cpu", "cuda:0", ...
  uint64_t element_size = 0;           // bytes per element
  uint64_t total_size = 0;             // bytes of all history_len frames
  std::string shm_name;                // filled in by the daemon
  int32_t creator_pid = 0;             // filled in by the daemon
  std::string payload_json;            // backend-specific extras

  // Metadata for frames of `shape` and `dtype`, sizes filled in. Throws
  // InvalidArgumentError when the result would not be a valid pool.
  static PoolMetadata create(std::string name, std::vector<int64_t> shape, DType dtype,
                             uint32_t history_len = 1, std::string device = "cpu",
                             std::string backend_type = "");
  // A pool for frames like `sample`: its shape, dtype and device.
  static PoolMetadata from_sample(std::string name, const TensorView& sample,
                                  uint32_t history_len = 1, std::string backend_type = "");

  // numpy's name of dtype: "float32", ...
  std::string_view dtype_str() const { return dtype_name(dtype); }
  // Bytes of one frame.
  uint64_t frame_bytes() const;
  Device memory_device() const;
  // Checks the fields and fills element_size, total_size, backend_type and
  // device defaults; throws InvalidArgumentError with the reason.
  void validate_and_complete();
  // What makes two pools the same: name, shape, dtype, history_len, device.
  bool same_identity(const PoolMetadata& other) const;
  // "pool 'cam': [480, 640, 3] uint8 x 4 on cpu".
  std::string to_string() const;
};

// Equality of every field but creator_pid (who created a pool does not make
// it another pool).
TENSORIPC_EXPORT bool operator==(const PoolMetadata& a, const PoolMetadata& b);
inline bool operator!=(const PoolMetadata& a, const PoolMetadata& b) { return !(a == b); }

}  // namespace tensoripc
