#include "lifecycle.h"

#include <signal.h>

#include <atomic>
#include <chrono>
#include <mutex>
#include <thread>
#include <vector>

namespace tensoripc::python {
namespace {

std::atomic<bool> g_shutting_down{false};
std::atomic<unsigned long> g_exit_thread{0};  // PyThread_get_thread_ident() of atexit's thread
thread_local int t_callback_depth = 0;

// Reaper threads not joined yet. Guarded by g_reapers_mu.
std::mutex g_reapers_mu;
std::vector<std::thread> g_reapers;

void join_reapers() {
  for (;;) {
    std::vector<std::thread> threads;
    {
      std::lock_guard<std::mutex> lock(g_reapers_mu);
      threads.swap(g_reapers);
    }
    if (threads.empty()) return;
    for (std::thread& t : threads) t.join();
  }
}

}  // namespace

bool shutting_down() {
  if (g_shutting_down.load(std::memory_order_acquire)) return true;
#if PY_VERSION_HEX >= 0x030D0000
  return Py_IsFinalizing() != 0;
#else
  return _Py_IsFinalizing() != 0;
#endif
}

namespace {

// A daemon thread of the program's while it exits. Not the exit's own
// thread, and not one running a callback: the exit's cleanup joins those,
// so they must come back (what they call raises StateError, and the
// callback's error is not reported at exit).
bool parks_at_exit() {
  return g_shutting_down.load(std::memory_order_acquire) && t_callback_depth == 0 &&
         PyThread_get_thread_ident() != g_exit_thread.load(std::memory_order_relaxed);
}

[[noreturn]] void sleep_until_the_process_ends() {
  for (;;) std::this_thread::sleep_for(std::chrono::hours(1));
}

}  // namespace

void park_if_exiting() {
  if (!parks_at_exit()) return;
  PyEval_SaveThread();  // never taken back: the thread ends with the process
  sleep_until_the_process_ends();
}

void park_released_if_exiting() {
  if (parks_at_exit()) sleep_until_the_process_ends();
}

CallbackScope::CallbackScope() { ++t_callback_depth; }
CallbackScope::~CallbackScope() { --t_callback_depth; }
bool in_callback() { return t_callback_depth > 0; }

void reap(std::function<void()> work) {
  std::lock_guard<std::mutex> lock(g_reapers_mu);
  BlockSignals quiet;
  g_reapers.emplace_back(std::move(work));
}

BlockSignals::BlockSignals() {
  sigset_t all;
  sigfillset(&all);
  for (int sig : {SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGTRAP, SIGABRT, SIGSYS}) sigdelset(&all, sig);
  pthread_sigmask(SIG_BLOCK, &all, &old_);
}

BlockSignals::~BlockSignals() { pthread_sigmask(SIG_SETMASK, &old_, nullptr); }

void register_lifecycle(py::module_& m) {
  m.def(
      "_shutdown",
      [] {
        g_exit_thread.store(PyThread_get_thread_ident(), std::memory_order_relaxed);
        g_shutting_down.store(true, std::memory_order_release);
      },
      "Internal: the interpreter is exiting; callbacks stop taking the GIL.");
  m.def(
      "_after_fork_in_child",
      [] {
        // The reaper threads are the parent's; joining them here would wait
        // on threads this process does not have.
        std::lock_guard<std::mutex> lock(g_reapers_mu);
        new std::vector<std::thread>(std::move(g_reapers));  // NOLINT: leaked on purpose
        g_reapers.clear();
      },
      "Internal: forget the parent's threads in a forked child.");
  m.def("_join_reapers", &join_reapers, py::call_guard<py::gil_scoped_release>(),
        "Internal: waits for cleanups started from callbacks to finish.");
}

}  // namespace tensoripc::python
