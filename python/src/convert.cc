#include "convert.h"

#include <array>
#include <vector>

#include "errors.h"

namespace tensoripc::python {
namespace {

// Interpreter-lifetime objects, created on first use under the GIL and never
// destroyed: a static py::object would be decref'd after the interpreter is
// gone.
template <typename F>
py::handle leaked(py::object*& slot, F make) {
  if (slot == nullptr) slot = new py::object(make());
  return *slot;
}

std::string for_pool(const std::string& pool) {
  return pool.empty() ? std::string() : " for pool '" + pool + "'";
}

Shape shape_of(const py::ssize_t* dims, size_t ndim) {
  std::array<int64_t, Shape::kMaxDims> out{};
  if (ndim > Shape::kMaxDims) return Shape(out.data(), ndim);  // throws, with the reason
  for (size_t i = 0; i < ndim; ++i) out[i] = static_cast<int64_t>(dims[i]);
  return Shape(out.data(), ndim);
}

}  // namespace

Backend parse_backend(const std::string& name) {
  if (name == "numpy") return Backend::kNumpy;
  if (name == "torch") return Backend::kTorch;
  if (name == "torch_cuda") return Backend::kTorchCuda;
  throw InvalidArgumentError("backend_type '" + name +
                             "' is not one this build hands out; use 'numpy', 'torch' or "
                             "'torch_cuda'");
}

CudaStream stream_of(const std::optional<uintptr_t>& stream) {
  // cudaStreamLegacy is 0x1 and cudaStreamPerThread 0x2 in CUDA's own
  // headers, so DLPack's 1 and 2 are already the handles CUDA takes.
  return stream ? reinterpret_cast<CudaStream>(*stream) : nullptr;
}

DType dtype_of_numpy(const py::dtype& dtype, const std::string& pool) {
  const char order = dtype.byteorder();
  if (order == '>') {
    raise(PyError::kFrameMismatch,
          "array dtype " + py::str(static_cast<py::handle>(dtype)).cast<std::string>() +
              " is big-endian" + for_pool(pool) +
              "; convert it first (arr.astype(arr.dtype.newbyteorder('=')))");
  }
  const size_t size = static_cast<size_t>(dtype.itemsize());
  std::optional<DType> out;
  switch (dtype.kind()) {
    case 'b':
      if (size == 1) out = DType::kBool;
      break;
    case 'i':
      out = size == 1   ? std::optional(DType::kInt8)
            : size == 2 ? std::optional(DType::kInt16)
            : size == 4 ? std::optional(DType::kInt32)
            : size == 8 ? std::optional(DType::kInt64)
                        : std::nullopt;
      break;
    case 'u':
      out = size == 1   ? std::optional(DType::kUInt8)
            : size == 2 ? std::optional(DType::kUInt16)
            : size == 4 ? std::optional(DType::kUInt32)
            : size == 8 ? std::optional(DType::kUInt64)
                        : std::nullopt;
      break;
    case 'f':
      out = size == 2   ? std::optional(DType::kFloat16)
            : size == 4 ? std::optional(DType::kFloat32)
            : size == 8 ? std::optional(DType::kFloat64)
                        : std::nullopt;
      break;
    case 'c':
      out = size == 8    ? std::optional(DType::kComplex64)
            : size == 16 ? std::optional(DType::kComplex128)
                         : std::nullopt;
      break;
    default:
      break;
  }
  if (!out) {
    raise(PyError::kFrameMismatch,
          "array dtype " + py::str(static_cast<py::handle>(dtype)).cast<std::string>() +
              " is not supported" + for_pool(pool) + "; supported: " + dtype_names_joined());
  }
  return *out;
}

py::dtype numpy_dtype(DType dtype) {
  static std::array<py::object*, 15> cache{};
  if (dtype == DType::kBFloat16) {
    raise(PyError::kFrameMismatch,
          "numpy has no bfloat16: read this pool as torch (backend_type 'torch', as_numpy=False)");
  }
  auto& slot = cache[static_cast<size_t>(dtype)];
  return py::reinterpret_borrow<py::dtype>(
      leaked(slot, [&] { return py::dtype(std::string(dtype_name(dtype))); }));
}

TensorView view_of_numpy(py::handle obj, py::object* keep, const std::string& pool) {
  auto arr = py::reinterpret_borrow<py::array>(obj);
  if (!(arr.flags() & py::array::c_style)) {
    static py::object* ascontiguous = nullptr;
    arr = leaked(ascontiguous,
                 [] { return py::module_::import("numpy").attr("ascontiguousarray"); })(arr);
  }
  const DType dtype = dtype_of_numpy(arr.dtype(), pool);
  const Shape shape = shape_of(arr.shape(), static_cast<size_t>(arr.ndim()));
  TensorView view(arr.data(), dtype, shape);
  *keep = std::move(arr);
  return view;
}

TensorView view_of_torch(py::handle obj, py::object* keep, const std::string& pool) {
  // The fast path is one call: __dlpack__() of the tensor as it is. Tensors
  // it refuses (requires grad, conjugate or negative bit) are made exportable
  // and a strided one is made contiguous (one more copy), each only when met.
  py::object t = py::reinterpret_borrow<py::object>(obj);
  py::object capsule;
  try {
    capsule = t.attr("__dlpack__")();
  } catch (py::error_already_set&) {
    t = t.attr("detach")().attr("resolve_conj")().attr("resolve_neg")();
    capsule = t.attr("__dlpack__")();
  }
  for (int attempt = 0;; ++attempt) {
    auto* managed = static_cast<DLManagedTensor*>(PyCapsule_GetPointer(capsule.ptr(), "dltensor"));
    if (managed == nullptr) throw py::error_already_set();
    try {
      const TensorView view = TensorView::from_dlpack(managed->dl_tensor);
      *keep = std::move(capsule);  // the capsule holds the tensor while the view is used
      return view;
    } catch (const InvalidArgumentError& e) {
      if (attempt > 0 || t.attr("is_contiguous")().cast<bool>()) {
        raise(PyError::kFrameMismatch, std::string(e.what()) + for_pool(pool));
      }
    }
    t = t.attr("contiguous")();
    capsule = t.attr("__dlpack__")();
  }
}

py::capsule dlpack_capsule(DLManagedTensor* managed) {
  return py::capsule(managed, "dltensor", [](PyObject* self) {
    // Only an unconsumed capsule still owns its tensor.
    if (PyCapsule_IsValid(self, "dltensor")) {
      auto* m = static_cast<DLManagedTensor*>(PyCapsule_GetPointer(self, "dltensor"));
      if (m != nullptr && m->deleter != nullptr) m->deleter(m);
    } else {
      PyErr_Clear();
    }
  });
}

py::object torch_from_dlpack(py::handle capsule_or_object) {
  static py::object* from_dlpack = nullptr;
  return leaked(from_dlpack, [] {
    return py::module_::import("torch.utils.dlpack").attr("from_dlpack");
  })(capsule_or_object);
}

py::object to_python(Tensor tensor, Backend backend) {
  if (backend != Backend::kNumpy) {  // a host tensor: torch on the CPU
    DLManagedTensor* managed = tensor.to_dlpack();  // shares the buffer
    return torch_from_dlpack(dlpack_capsule(managed));
  }
  const py::dtype dtype = numpy_dtype(tensor.dtype());
  std::vector<py::ssize_t> shape(tensor.shape().begin(), tensor.shape().end());
  void* data = tensor.data();
  auto* owner = new Tensor(std::move(tensor));
  py::capsule base(owner, [](void* p) { delete static_cast<Tensor*>(p); });
  return py::array(dtype, std::move(shape), {}, data, base);
}

py::array readonly_numpy(const TensorView& view, py::handle base) {
  const py::dtype dtype = numpy_dtype(view.dtype());
  std::vector<py::ssize_t> shape(view.shape().begin(), view.shape().end());
  py::array arr(dtype, std::move(shape), {}, view.data(), base);
  py::detail::array_proxy(arr.ptr())->flags &= ~py::detail::npy_api::NPY_ARRAY_WRITEABLE_;
  return arr;
}

}  // namespace tensoripc::python
