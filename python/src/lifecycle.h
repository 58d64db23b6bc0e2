// What keeps the library's threads and the interpreter out of each other's
// way: the shutdown flag (set by the package's atexit handler, after which no
// callback takes the GIL again), the mark of a thread running a callback
// (where cleanup must not join that very thread), the reaper that finishes
// such cleanups on a thread of its own, and the signal mask the library's
// threads are born with (Ctrl-C must reach Python's main thread).
#pragma once

#include <pybind11/pybind11.h>

#include <functional>

namespace tensoripc::python {

namespace py = pybind11;

// True once the interpreter is shutting down (tensor_ipc's atexit handler
// ran, or Python is finalizing): callbacks are no longer called.
bool shutting_down();

// Called by a producer or consumer used after cleanup(). Once the
// interpreter is exiting (everything was cleaned up at exit), a thread other
// than the exiting one -- a daemon thread still publishing or reading -- is
// parked here: it releases the GIL and sleeps until the process ends, as
// Python stops daemon threads at exit, instead of raising StateError
// tracebacks into the exit. Otherwise it returns (the caller raises). A
// thread running a callback is never parked: the exit's cleanup joins it.
void park_if_exiting();

// The same for a thread that has released the GIL and is about to take it
// back (without_gil): once exiting, it sleeps here, GIL-less, until the
// process ends. Otherwise it returns.
void park_released_if_exiting();

// While one lives, this thread counts as running a tensor-ipc callback.
class CallbackScope {
 public:
  CallbackScope();
  ~CallbackScope();
  CallbackScope(const CallbackScope&) = delete;
  CallbackScope& operator=(const CallbackScope&) = delete;
};
bool in_callback();

// Runs `work` on a new thread (for a cleanup that cannot run on a callback
// thread: it would join itself). _join_reapers() waits for all of them.
void reap(std::function<void()> work);

// Blocks the asynchronous signals in this thread while it lives, so that
// threads the library starts meanwhile (they inherit the mask) never take
// SIGINT from Python's main thread. Synchronous signals stay unblocked.
class BlockSignals {
 public:
  BlockSignals();
  ~BlockSignals();
  BlockSignals(const BlockSignals&) = delete;
  BlockSignals& operator=(const BlockSignals&) = delete;

 private:
  sigset_t old_;
};

// _shutdown() and _join_reapers(), for the package's atexit handler.
void register_lifecycle(py::module_& m);

}  // namespace tensoripc::python
