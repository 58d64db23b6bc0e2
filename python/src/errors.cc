#include "errors.h"

#include <array>

#include "tensoripc/error.h"

namespace tensoripc::python {
namespace {

constexpr size_t kKinds = static_cast<size_t>(PyError::kGpuUnsupported) + 1;

// Borrowed from tensor_ipc.errors, which the package keeps alive for the
// interpreter's life; set once at import.
std::array<PyObject*, kKinds> g_classes{};

PyObject* builtin_for(PyError kind) {
  switch (kind) {
    case PyError::kTopicTaken:
    case PyError::kMetadataMismatch:
    case PyError::kInvalidArgument:
      return PyExc_ValueError;
    case PyError::kFrameMismatch:
      return PyExc_TypeError;
    case PyError::kDaemonUnavailable:
      return PyExc_ConnectionError;
    case PyError::kGpuUnsupported:
      return PyExc_NotImplementedError;
    default:
      return PyExc_RuntimeError;
  }
}

// An instance of `kind` with `message`, with extra attributes set.
py::object make(PyError kind, const std::string& message) {
  py::handle cls = error_class(kind);
  return cls(message);
}

void set(PyError kind, const py::object& instance) {
  PyErr_SetObject(error_class(kind).ptr(), instance.ptr());
}

}  // namespace

py::handle error_class(PyError kind) {
  PyObject* cls = g_classes[static_cast<size_t>(kind)];
  return cls != nullptr ? cls : builtin_for(kind);
}

void raise(PyError kind, const std::string& message) {
  set(kind, make(kind, message));
  throw py::error_already_set();
}

void register_errors(py::module_& m) {
  m.def(
      "_set_error_classes",
      [](py::handle errors) {
        static constexpr std::array<const char*, kKinds> kNames = {
            "Error",
            "TopicTakenError",
            "MetadataMismatchError",
            "InvalidArgumentError",
            "FrameMismatchError",
            "DaemonUnavailableError",
            "ResourceExhaustedError",
            "StateError",
            "GpuPoolsNotSupportedError",
        };
        for (size_t i = 0; i < kKinds; ++i) {
          py::object cls = errors.attr(kNames[i]);
          g_classes[i] = cls.inc_ref().ptr();  // held for the interpreter's life
        }
      },
      "Internal: the exception classes of tensor_ipc.errors (called once by the package).");

  py::register_exception_translator([](std::exception_ptr p) {
    if (!p) return;
    try {
      std::rethrow_exception(p);
    } catch (const TopicTakenError& e) {
      py::object inst = make(PyError::kTopicTaken, e.what());
      inst.attr("topic") = e.topic();
      inst.attr("holder_pid") = e.holder_pid();
      set(PyError::kTopicTaken, inst);
    } catch (const DaemonUnavailableError& e) {
      py::object inst = make(PyError::kDaemonUnavailable, e.what());
      inst.attr("socket_path") = e.socket_path();
      set(PyError::kDaemonUnavailable, inst);
    } catch (const MetadataMismatchError& e) {
      set(PyError::kMetadataMismatch, make(PyError::kMetadataMismatch, e.what()));
    } catch (const InvalidArgumentError& e) {
      set(PyError::kInvalidArgument, make(PyError::kInvalidArgument, e.what()));
    } catch (const ResourceExhaustedError& e) {
      set(PyError::kResourceExhausted, make(PyError::kResourceExhausted, e.what()));
    } catch (const StateError& e) {
      set(PyError::kState, make(PyError::kState, e.what()));
    } catch (const Error& e) {
      set(PyError::kError, make(PyError::kError, e.what()));
    }
    // Anything else goes on to pybind11's own translators (std::bad_alloc
    // -> MemoryError, std::exception -> RuntimeError).
  });
}

}  // namespace tensoripc::python
