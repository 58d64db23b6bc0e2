// Releasing the GIL around blocking C++ work.
//
// Not with py::gil_scoped_release: its destructor takes the GIL back, and a
// daemon thread that comes back while the interpreter finalizes is ended by
// CPython right there, with pthread_exit. That unwinds the thread's stack, and
// an unwind leaving a destructor (noexcept) calls std::terminate: the process
// aborts at exit. without_gil takes the GIL back in ordinary code, where the
// unwind passes through (pybind11 lets abi::__forced_unwind through too).
//
// Once the interpreter is exiting (tensor_ipc's atexit handler ran), a
// daemon thread coming back from the library never takes the GIL again: it
// sleeps until the process ends (park_released_if_exiting), as Python stops
// its daemon threads at exit. Neither a call that failed because the exit's
// cleanup closed its object under it (a StateError traceback into the exit)
// nor one that succeeded (ended by pthread_exit in the GIL's take-back once
// the interpreter finalizes) then reaches Python. Callback threads are the
// exception: the exit's cleanup joins them, so they come back.
#pragma once

#include <Python.h>

#include <optional>
#include <type_traits>
#include <utility>

#include "lifecycle.h"

namespace tensoripc::python {

template <typename F>
auto without_gil(F&& f) -> std::invoke_result_t<F> {
  using R = std::invoke_result_t<F>;
  PyThreadState* state = PyEval_SaveThread();
  const auto take_gil_back = [state] {
    park_released_if_exiting();
    PyEval_RestoreThread(state);
  };
  if constexpr (std::is_void_v<R>) {
    try {
      std::forward<F>(f)();
    } catch (...) {
      take_gil_back();
      throw;
    }
    take_gil_back();
  } else {
    std::optional<R> result;
    try {
      result.emplace(std::forward<F>(f)());
    } catch (...) {
      take_gil_back();
      throw;
    }
    take_gil_back();
    return std::move(*result);
  }
}

}  // namespace tensoripc::python
