// Tensors as the library hands them in and out: a dtype, a shape, one
// contiguous row-major block of data, and where that block lives (host memory,
// or a GPU for device pools).
//
//   TensorView  non-owning: points at memory someone else owns (what put()
//               takes; what a zero-copy read gives).
//   Tensor      owning: holds its buffer (what a copying get() returns).
//
// Both convert to DLPack (DLManagedTensor, DLPack 0.6 as Debian ships it), so
// numpy.from_dlpack, torch.utils.dlpack.from_dlpack, cupy and JAX can take a
// frame without a copy; and a TensorView can be made from any DLTensor.
#pragma once

#include <dlpack/dlpack.h>

#include <array>
#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <memory>
#include <string>
#include <vector>

#include "tensoripc/dtype.h"
#include "tensoripc/export.h"

namespace tensoripc {

// Where a tensor's bytes live.
enum class MemoryKind : uint8_t { kHost, kCuda };

// A cudaStream_t, without the CUDA headers. nullptr is the legacy default
// stream (as in CUDA), which orders against every blocking stream.
using CudaStream = void*;

// Whether this build of the library serves GPU pools (it was built with the
// CUDA toolkit). A GPU pool needs a usable GPU at run time as well.
TENSORIPC_EXPORT bool built_with_cuda();

// A memory kind and, for GPUs, the CUDA ordinal. Value type.
struct TENSORIPC_EXPORT Device {
  MemoryKind kind = MemoryKind::kHost;
  int ordinal = 0;  // CUDA device ordinal; 0 for host

  static Device host() { return {}; }
  static Device cuda(int ordinal) { return {MemoryKind::kCuda, ordinal}; }
  // "cpu" or "cuda:N", the names PoolMetadata::device uses.
  std::string to_string() const;
  bool operator==(const Device& o) const { return kind == o.kind && ordinal == o.ordinal; }
  bool operator!=(const Device& o) const { return !(*this == o); }
};

// A tensor shape of at most kMaxDims dimensions, stored inline so that making
// a TensorView for every put() never allocates. [] is a scalar (1 element).
// Only the first ndim() entries are ever written or read: constructing or
// copying a shape costs its dimensions, not the 256 bytes of room (a get()
// makes several). Value type.
class TENSORIPC_EXPORT Shape {
 public:
  static constexpr size_t kMaxDims = 32;

  Shape() noexcept {}  // user-provided: Shape() must not zero the whole array
  Shape(const Shape& other) noexcept : ndim_(other.ndim_) { copy_dims(other); }
  Shape& operator=(const Shape& other) noexcept {
    ndim_ = other.ndim_;
    copy_dims(other);
    return *this;
  }
  Shape(std::initializer_list<int64_t> dims);  // NOLINT: implicit by design
  Shape(const std::vector<int64_t>& dims);     // NOLINT: implicit by design
  Shape(const int64_t* dims, size_t ndim);     // throws InvalidArgumentError past kMaxDims

  size_t ndim() const { return ndim_; }
  size_t size() const { return ndim_; }
  int64_t operator[](size_t i) const { return dims_[i]; }
  const int64_t* data() const { return dims_.data(); }
  const int64_t* begin() const { return dims_.data(); }
  const int64_t* end() const { return dims_.data() + ndim_; }
  // Product of the dimensions (1 for a scalar).
  size_t numel() const;
  std::vector<int64_t> to_vector() const { return {begin(), end()}; }
  // A new shape with `dim` in front: [dim, *this].
  Shape prepend(int64_t dim) const;
  // "[480, 640, 3]".
  std::string to_string() const;

  bool operator==(const Shape& o) const;
  bool operator!=(const Shape& o) const { return !(*this == o); }

 private:
  void copy_dims(const Shape& other) {
    for (uint32_t i = 0; i < ndim_; ++i) dims_[i] = other.dims_[i];
  }

  std::array<int64_t, kMaxDims> dims_;  // [0, ndim_) valid; the rest never read
  uint32_t ndim_ = 0;
};

// A tensor in memory owned by someone else; it must outlive the view.
// Cheap to copy (no allocation). Thread-compatible.
class TENSORIPC_EXPORT TensorView {
 public:
  TensorView() = default;
  TensorView(const void* data, DType dtype, Shape shape, Device device = Device::host())
      : data_(data), dtype_(dtype), shape_(shape), device_(device) {}

  // A view of a DLPack tensor. It must be compact row-major (strides NULL or
  // matching), of a dtype in dtype.h, on the CPU (or CUDA host memory) or a
  // CUDA device; else InvalidArgumentError.
  static TensorView from_dlpack(const DLTensor& tensor);

  const void* data() const { return data_; }
  template <typename T>
  const T* data_as() const {
    return static_cast<const T*>(data_);
  }
  DType dtype() const { return dtype_; }
  const Shape& shape() const { return shape_; }
  Device device() const { return device_; }
  size_t ndim() const { return shape_.ndim(); }
  size_t numel() const { return shape_.numel(); }
  size_t nbytes() const { return shape_.numel() * dtype_itemsize(dtype_); }
  bool empty() const { return data_ == nullptr; }

  // Exports the view as DLPack without copying. `keep_alive` is held until the
  // DLPack consumer calls the deleter; the viewed memory must live that long.
  DLManagedTensor* to_dlpack(std::shared_ptr<const void> keep_alive = nullptr) const;

 private:
  const void* data_ = nullptr;
  DType dtype_ = DType::kFloat32;
  Shape shape_;
  Device device_;
};

// A host tensor that owns its buffer (64-byte aligned). Move-only: copies
// are explicit (clone()), because frames can be tens of megabytes.
// Thread-compatible.
class TENSORIPC_EXPORT Tensor {
 public:
  Tensor() = default;
  // A zero-filled host tensor.
  Tensor(DType dtype, Shape shape);
  ~Tensor();
  Tensor(Tensor&& other) noexcept;
  Tensor& operator=(Tensor&& other) noexcept;
  Tensor(const Tensor&) = delete;
  Tensor& operator=(const Tensor&) = delete;

  // A host copy of `view` (which must be host memory).
  static Tensor copy_of(const TensorView& view);
  // A tensor over a buffer the caller allocated; `storage` owns it (its
  // deleter frees it), `data` points into it. For the library and bindings.
  static Tensor adopt(std::shared_ptr<void> storage, void* data, DType dtype, Shape shape);

  Tensor clone() const;

  void* data() { return data_; }
  const void* data() const { return data_; }
  template <typename T>
  T* data_as() {
    return static_cast<T*>(data_);
  }
  template <typename T>
  const T* data_as() const {
    return static_cast<const T*>(data_);
  }
  DType dtype() const { return dtype_; }
  const Shape& shape() const { return shape_; }
  Device device() const { return Device::host(); }
  size_t ndim() const { return shape_.ndim(); }
  size_t numel() const { return shape_.numel(); }
  size_t nbytes() const { return shape_.numel() * dtype_itemsize(dtype_); }
  bool empty() const { return data_ == nullptr; }

  TensorView view() const { return TensorView(data_, dtype_, shape_); }
  operator TensorView() const { return view(); }  // NOLINT: implicit by design

  // Exports as DLPack without copying; the DLManagedTensor shares ownership
  // of the buffer, so it stays valid after this Tensor is gone.
  DLManagedTensor* to_dlpack() const;

 private:
  std::shared_ptr<void> storage_;
  void* data_ = nullptr;
  DType dtype_ = DType::kFloat32;
  Shape shape_;
};

}  // namespace tensoripc
