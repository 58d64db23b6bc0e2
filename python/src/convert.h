// Conversions between Python arrays and the client library's tensors: numpy
// arrays and torch tensors in (as TensorViews over the caller's memory, no
// copy), owning Tensors and zero-copy frames out (as numpy arrays or torch
// tensors that keep the C++ buffer alive). Every function here needs the GIL.
#pragma once

#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include <optional>
#include <string>

#include "tensoripc/tensoripc.h"

namespace tensoripc::python {

namespace py = pybind11;

// What get() hands out: the pool's backend type, or numpy when asked.
// kTorchCuda: torch tensors on the pool's GPU.
enum class Backend { kNumpy, kTorch, kTorchCuda };

// "numpy", "torch", "torch_cuda"; anything else is an InvalidArgumentError
// naming the backends.
Backend parse_backend(const std::string& name);

// A CUDA stream as Python passes one (DLPack's convention: None or 0 the
// legacy default stream, 1 the legacy default stream, 2 the per-thread
// default stream, else a cudaStream_t's address, as torch's
// Stream.cuda_stream gives it).
CudaStream stream_of(const std::optional<uintptr_t>& stream);

// A numpy array's dtype as a DType; raises TypeError (dtype not supported,
// or not in native byte order).
DType dtype_of_numpy(const py::dtype& dtype, const std::string& pool);

// The numpy dtype of `dtype`; raises TypeError for bfloat16 (numpy has none).
py::dtype numpy_dtype(DType dtype);

// A view of the array's data for put(). `keep` receives the array actually
// viewed: the argument itself when C-contiguous, else a contiguous copy of
// it (the one extra copy a strided array costs).
TensorView view_of_numpy(py::handle array, py::object* keep, const std::string& pool);

// The same for a torch tensor (CPU or CUDA), through its DLPack export: `keep` holds
// the capsule (and so the tensor) while the view is used. Detaches tensors
// that require grad, resolves conjugate/negative views and makes strided
// tensors contiguous (a copy) first, only when needed.
TensorView view_of_torch(py::handle tensor, py::object* keep, const std::string& pool);

// An owning host tensor as a writable numpy array or a torch tensor,
// without copying: the array's base (or the DLPack capsule) owns the Tensor.
py::object to_python(Tensor tensor, Backend backend);

// A numpy array over memory the library owns, read-only, kept alive by
// `base` (a Python object holding the memory).
py::array readonly_numpy(const TensorView& view, py::handle base);

// A PyCapsule "dltensor" over a DLManagedTensor; its destructor calls the
// deleter unless a consumer took it (renamed it "used_dltensor").
py::capsule dlpack_capsule(DLManagedTensor* managed);

// torch.utils.dlpack.from_dlpack, imported on first use (torch loads slowly,
// so `import tensor_ipc` never imports it).
py::object torch_from_dlpack(py::handle capsule_or_object);

}  // namespace tensoripc::python
