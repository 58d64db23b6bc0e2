// Releasing the GIL around blocking C++ work.
//
// Not with py::gil_scoped_release: its destructor takes the GIL back, and a
// daemon thread that comes back while the interpreter finalizes is ended by
// CPython right there, with pthread_exit. That unwinds the thread's stack, and
// an unwind leaving a destructor (noexcept) calls std::terminate: the process
// aborts at exit. without_gil takes the GIL back in ordinary code, where the
// unwind passes through (pybind11 lets abi::__forced_unwind through too).
#pragma once

#include <Python.h>

#include <optional>
#include <type_traits>
#include <utility>

namespace tensoripc::python {

template <typename F>
auto without_gil(F&& f) -> std::invoke_result_t<F> {
  using R = std::invoke_result_t<F>;
  PyThreadState* state = PyEval_SaveThread();
  if constexpr (std::is_void_v<R>) {
    try {
      std::forward<F>(f)();
    } catch (...) {
      PyEval_RestoreThread(state);
      throw;
    }
    PyEval_RestoreThread(state);
  } else {
    std::optional<R> result;
    try {
      result.emplace(std::forward<F>(f)());
    } catch (...) {
      PyEval_RestoreThread(state);
      throw;
    }
    PyEval_RestoreThread(state);
    return std::move(*result);
  }
}

}  // namespace tensoripc::python
