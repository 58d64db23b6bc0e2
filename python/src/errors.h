// The Python side of the client library's errors. The exception classes live
// in tensor_ipc/errors.py (each derives from tensor_ipc.Error and from the
// built-in the seed's API names: ValueError, TypeError, ConnectionError, ...);
// the package hands them to _core once at import (_set_error_classes). The
// translator maps every tensoripc::Error to one of them with the C++ message,
// so no library error reaches Python as a bare RuntimeError.
#pragma once

#include <pybind11/pybind11.h>

#include <string>

namespace tensoripc::python {

namespace py = pybind11;

enum class PyError {
  kError,              // tensor_ipc.Error
  kTopicTaken,         // ValueError
  kMetadataMismatch,   // ValueError
  kInvalidArgument,    // ValueError
  kFrameMismatch,      // TypeError: put() of the wrong backend, dtype, shape or device
  kDaemonUnavailable,  // ConnectionError
  kResourceExhausted,  // RuntimeError
  kState,              // RuntimeError: used after cleanup(), pool changed identity
  kGpuUnsupported,     // NotImplementedError
};

// Defines _core._set_error_classes and registers the translator.
void register_errors(py::module_& m);

// Sets the Python error `kind` with `message` and throws
// py::error_already_set. Needs the GIL.
[[noreturn]] void raise(PyError kind, const std::string& message);

// The class raised for `kind`: tensor_ipc.errors' once the package has set
// them, the built-in it derives from before. Needs the GIL.
py::handle error_class(PyError kind);

}  // namespace tensoripc::python
