#include "tensoripc/tensor.h"

#include <cstdlib>
#include <cstring>
#include <utility>

#include "buffer_pool.h"
#include "pool/model.h"
#include "tensoripc/error.h"

namespace tensoripc {
namespace {

// Owns what a DLManagedTensor points at until its consumer calls the deleter.
struct DLPackContext {
  std::shared_ptr<const void> keep_alive;
  Shape shape;
  DLManagedTensor managed{};
};

void delete_dlpack_context(DLManagedTensor* self) {
  delete static_cast<DLPackContext*>(self->manager_ctx);
}

DLManagedTensor* make_dlpack(const void* data, DType dtype, const Shape& shape, Device device,
                             std::shared_ptr<const void> keep_alive) {
  auto* ctx = new DLPackContext{std::move(keep_alive), shape, {}};
  const DTypeInfo& info = dtype_info(dtype);
  DLTensor& t = ctx->managed.dl_tensor;
  t.data = const_cast<void*>(data);  // DLPack has no const; consumers decide mutability
  t.device.device_type = device.kind == MemoryKind::kCuda ? kDLCUDA : kDLCPU;
  t.device.device_id = device.kind == MemoryKind::kCuda ? device.ordinal : 0;
  t.ndim = static_cast<int>(ctx->shape.ndim());
  t.dtype.code = info.dl_code;
  t.dtype.bits = info.dl_bits;
  t.dtype.lanes = 1;
  t.shape = const_cast<int64_t*>(ctx->shape.data());
  t.strides = nullptr;  // compact row-major
  t.byte_offset = 0;
  ctx->managed.manager_ctx = ctx;
  ctx->managed.deleter = delete_dlpack_context;
  return &ctx->managed;
}

}  // namespace

bool built_with_cuda() {
#ifdef TENSORIPC_HAVE_CUDA
  return true;
#else
  return false;
#endif
}

std::string Device::to_string() const {
  return kind == MemoryKind::kCuda ? "cuda:" + std::to_string(ordinal) : "cpu";
}

Shape::Shape(std::initializer_list<int64_t> dims) : Shape(dims.begin(), dims.size()) {}

Shape::Shape(const std::vector<int64_t>& dims) : Shape(dims.data(), dims.size()) {}

Shape::Shape(const int64_t* dims, size_t ndim) {
  if (ndim > kMaxDims) {
    throw InvalidArgumentError("a tensor of " + std::to_string(ndim) + " dimensions; at most " +
                               std::to_string(kMaxDims) + " are supported");
  }
  for (size_t i = 0; i < ndim; ++i) dims_[i] = dims[i];
  ndim_ = static_cast<uint32_t>(ndim);
}

size_t Shape::numel() const {
  size_t n = 1;
  for (size_t i = 0; i < ndim_; ++i) n *= static_cast<size_t>(dims_[i] < 0 ? 0 : dims_[i]);
  return n;
}

Shape Shape::prepend(int64_t dim) const {
  if (ndim_ == kMaxDims) {
    throw InvalidArgumentError("cannot add a history dimension to a " + std::to_string(ndim_) +
                               "-dimensional frame");
  }
  Shape out;
  out.dims_[0] = dim;
  for (size_t i = 0; i < ndim_; ++i) out.dims_[i + 1] = dims_[i];
  out.ndim_ = ndim_ + 1;
  return out;
}

std::string Shape::to_string() const { return format_shape(data(), ndim()); }

bool Shape::operator==(const Shape& o) const {
  if (ndim_ != o.ndim_) return false;
  for (size_t i = 0; i < ndim_; ++i) {
    if (dims_[i] != o.dims_[i]) return false;
  }
  return true;
}

TensorView TensorView::from_dlpack(const DLTensor& t) {
  const auto dtype = dtype_from_dlpack(t.dtype.code, t.dtype.bits, t.dtype.lanes);
  if (!dtype) {
    throw InvalidArgumentError("DLPack tensor of type code " + std::to_string(t.dtype.code) + ", " +
                               std::to_string(t.dtype.bits) + " bits, " +
                               std::to_string(t.dtype.lanes) +
                               " lanes is not supported; expected one of " + dtype_names_joined());
  }
  if (t.ndim < 0) throw InvalidArgumentError("DLPack tensor has a negative ndim");
  Shape shape(t.shape, static_cast<size_t>(t.ndim));
  if (t.strides != nullptr) {
    int64_t expected = 1;
    for (int i = t.ndim - 1; i >= 0; --i) {
      // A dimension of size 1 may carry any stride.
      if (t.shape[i] != 1 && t.strides[i] != expected) {
        throw InvalidArgumentError("DLPack tensor of shape " + shape.to_string() +
                                   " is not contiguous (row-major); copy it first "
                                   "(numpy.ascontiguousarray, tensor.contiguous())");
      }
      expected *= t.shape[i];
    }
  }
  Device device;
  switch (t.device.device_type) {
    case kDLCPU:
    case kDLCUDAHost:
      break;
    case kDLCUDA:
    case kDLCUDAManaged:
      device = Device::cuda(t.device.device_id);
      break;
    default:
      throw InvalidArgumentError("DLPack tensor on device type " +
                                 std::to_string(t.device.device_type) +
                                 " is not supported; only CPU and CUDA memory");
  }
  const void* data = static_cast<const char*>(t.data) + t.byte_offset;
  return TensorView(data, *dtype, shape, device);
}

DLManagedTensor* TensorView::to_dlpack(std::shared_ptr<const void> keep_alive) const {
  return make_dlpack(data_, dtype_, shape_, device_, std::move(keep_alive));
}

Tensor::Tensor(DType dtype, Shape shape) : dtype_(dtype), shape_(shape) {
  const size_t n = nbytes();
  storage_ = allocate_buffer(n);
  data_ = storage_.get();
  std::memset(data_, 0, n);
}

Tensor::~Tensor() = default;

Tensor::Tensor(Tensor&& other) noexcept
    : storage_(std::move(other.storage_)),
      data_(std::exchange(other.data_, nullptr)),
      dtype_(other.dtype_),
      shape_(other.shape_) {
  other.shape_ = Shape();
}

Tensor& Tensor::operator=(Tensor&& other) noexcept {
  if (this != &other) {
    storage_ = std::move(other.storage_);
    data_ = std::exchange(other.data_, nullptr);
    dtype_ = other.dtype_;
    shape_ = other.shape_;
    other.shape_ = Shape();
  }
  return *this;
}

Tensor Tensor::copy_of(const TensorView& view) {
  if (view.device().kind != MemoryKind::kHost) {
    throw InvalidArgumentError("Tensor::copy_of needs host memory; the view is on " +
                               view.device().to_string());
  }
  Tensor t;
  t.dtype_ = view.dtype();
  t.shape_ = view.shape();
  t.storage_ = allocate_buffer(view.nbytes());
  t.data_ = t.storage_.get();
  if (view.nbytes() > 0) std::memcpy(t.data_, view.data(), view.nbytes());
  return t;
}

Tensor Tensor::adopt(std::shared_ptr<void> storage, void* data, DType dtype, Shape shape) {
  Tensor t;
  t.storage_ = std::move(storage);
  t.data_ = data;
  t.dtype_ = dtype;
  t.shape_ = shape;
  return t;
}

Tensor Tensor::clone() const {
  if (empty()) return Tensor();
  return copy_of(view());
}

DLManagedTensor* Tensor::to_dlpack() const {
  return make_dlpack(data_, dtype_, shape_, Device::host(), storage_);
}

}  // namespace tensoripc
