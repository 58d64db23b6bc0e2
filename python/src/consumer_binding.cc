// _core.Consumer and _core.FrameView: a tensoripc::Consumer for
// tensor_ipc.TensorConsumer. get() copies the frames once, with the GIL
// released, into a buffer the returned array owns; view() hands the frame
// out without a copy. Callbacks run on the library's notification thread and
// hold the GIL only while Python code runs.
#include <chrono>
#include <cstring>
#include <memory>
#include <optional>
#include <thread>

#include "bindings.h"
#include "convert.h"
#include "errors.h"
#include "gil.h"
#include "lifecycle.h"
#include "metadata_convert.h"
#include "recycler.h"

namespace tensoripc::python {
namespace {

// What the notification thread needs to call Python, shared by PyConsumer
// and the callback the library holds (which may outlive PyConsumer when a
// cleanup is finished by the reaper).
struct CallbackState {
  std::atomic<bool> closed{false};
  // Borrowed: the Python TensorConsumer holds the callable (where the garbage
  // collector sees it: a callback that refers back to its consumer makes a
  // cycle it can collect) and calls cleanup(), which clears this, before it
  // lets go. Guarded by the GIL.
  PyObject* callable = nullptr;
  Backend backend = Backend::kNumpy;
  // Set once the Consumer is made; a GPU pool's callback asks it for the
  // pool's GPU in this process.
  std::atomic<const Consumer*> consumer{nullptr};
  std::atomic<uint64_t> delivered{0};
  std::atomic<uint64_t> errors{0};
  BufferRecycler buffers;
};

// Where a GPU pool's frames are in this process ("cuda:N"), asked of the
// consumer: the first frames can come while its constructor is still
// returning. Empty if it never does (closed).
std::string gpu_of(CallbackState& s) {
  const Consumer* c = nullptr;
  while ((c = s.consumer.load(std::memory_order_acquire)) == nullptr) {
    if (s.closed.load(std::memory_order_acquire)) return {};
    std::this_thread::sleep_for(std::chrono::microseconds(100));
  }
  try {
    std::optional<Device> d = c->device();
    return d ? d->to_string() : std::string();
  } catch (const Error&) {  // cleaned up meanwhile
    return {};
  }
}

// The frame's copy for Python is made before taking the GIL; the library's
// buffer is reused for the next frame, so the callback needs its own. A GPU
// pool's frame reaches the callback as get() gives it, a tensor on the GPU:
// the library copied it to host memory, and it goes back up (torch's
// Tensor.to on the current stream), a round trip that get() does not make.
void deliver(CallbackState& s, const Frame& frame) {
  if (s.closed.load(std::memory_order_acquire) || shutting_down() || frame.tensor.empty()) {
    return;
  }
  const size_t nbytes = frame.tensor.nbytes();
  std::shared_ptr<void> buffer = s.buffers.acquire(nbytes);
  std::memcpy(buffer.get(), frame.tensor.data(), nbytes);
  void* data = buffer.get();
  Tensor copy = Tensor::adopt(std::move(buffer), data, frame.tensor.dtype(), frame.tensor.shape());
  const std::string gpu = s.backend == Backend::kTorchCuda ? gpu_of(s) : std::string();
  if (s.backend == Backend::kTorchCuda && gpu.empty()) return;  // producer gone or closed

  CallbackScope scope;
  py::gil_scoped_acquire gil;
  // Keep this thread's Python thread state between callbacks (pybind11
  // would otherwise create and delete one per call).
  static thread_local bool kept_thread_state = false;
  if (!kept_thread_state) {
    gil.inc_ref();
    kept_thread_state = true;
  }
  if (s.closed.load(std::memory_order_acquire) || s.callable == nullptr) return;
  // Our own reference for the call: cleanup() may run meanwhile (the
  // callback can release the GIL) and the TensorConsumer let go of it.
  auto callback = py::reinterpret_borrow<py::object>(s.callable);
  s.delivered.fetch_add(1, std::memory_order_relaxed);
  try {
    py::object value = to_python(std::move(copy), s.backend);
    if (!gpu.empty()) value = value.attr("to")(gpu);
    callback(value);
  } catch (py::error_already_set& e) {
    s.errors.fetch_add(1, std::memory_order_relaxed);
    // At exit the error is most likely the exit's doing (a producer the
    // callback writes to, already cleaned up): not worth a traceback then.
    if (shutting_down()) return;
    e.discard_as_unraisable(callback);  // sys.unraisablehook; the consumer goes on
  } catch (const std::exception& e) {
    s.errors.fetch_add(1, std::memory_order_relaxed);
    if (shutting_down()) return;
    PyErr_SetString(PyExc_RuntimeError, e.what());
    PyErr_WriteUnraisable(callback.ptr());
  }
}

const char* state_name(PoolState state) {
  switch (state) {
    case PoolState::kWaitingForProducer:
      return "waiting_for_producer";
    case PoolState::kLive:
      return "live";
    case PoolState::kProducerGone:
      return "producer_gone";
    case PoolState::kRemoved:
      return "removed";
    case PoolState::kError:
      return "error";
    case PoolState::kClosed:
      return "closed";
  }
  return "unknown";
}

NotifyPath parse_notify(const std::string& notify) {
  if (notify == "stream") return NotifyPath::kStream;
  if (notify == "futex") return NotifyPath::kFutex;
  throw InvalidArgumentError("notify must be 'stream' or 'futex', not '" + notify + "'");
}

// One frame in shared memory, without a copy (FrameView). Immutable;
// thread-compatible.
struct PyFrameView {
  FrameView view;
  Backend backend;
  bool on_gpu() const { return view.tensor().device().kind == MemoryKind::kCuda; }
};

// Thread-safe: any Python thread may call any method (the GIL orders them;
// blocking work runs without it on a shared reference to the Consumer).
class PyConsumer {
 public:
  PyConsumer(const MetadataArgs& args, uint32_t keep_last, std::string socket_path,
             double connect_timeout_s, const std::string& notify, py::object callback)
      : state_(std::make_shared<CallbackState>()) {
    PoolMetadata md = to_metadata(args);
    backend_ = parse_backend(md.backend_type);
    name_ = md.name;
    state_->backend = backend_;
    ConsumerOptions options;
    options.keep_last = keep_last;
    options.socket_path = std::move(socket_path);
    options.notify = parse_notify(notify);
    options.connect_timeout =
        std::chrono::milliseconds(static_cast<int64_t>(connect_timeout_s * 1000.0));
    if (!callback.is_none()) {
      state_->callable = callback.ptr();
      std::shared_ptr<CallbackState> state = state_;
      options.on_new_data = [state](const Frame& frame) { deliver(*state, frame); };
    }
    try {
      consumer_ = without_gil([&] {
        BlockSignals quiet;  // the consumer's threads must never take Ctrl-C
        return std::make_shared<Consumer>(std::move(md), std::move(options));
      });
      state_->consumer.store(consumer_.get(), std::memory_order_release);
    } catch (...) {
      state_->closed.store(true, std::memory_order_release);
      state_->callable = nullptr;
      throw;
    }
  }

  // pybind11 destroys it with the GIL held.
  ~PyConsumer() {
    try {
      cleanup();
    } catch (const std::exception&) {  // a destructor never throws
    }
  }

  py::object get(int64_t history_len, bool latest_first, bool as_numpy) {
    std::shared_ptr<Consumer> c = consumer("get");
    check_history_len(history_len);
    std::optional<Tensor> t =
        without_gil([&] { return c->get(static_cast<size_t>(history_len), latest_first); });
    if (!t) return py::none();
    return to_python(std::move(*t), as_numpy ? Backend::kNumpy : backend_);
  }

  // Into caller memory at address `dst` (host, or device memory for a GPU
  // pool): the frames' seq of the latest, 0 when there is none yet. The GIL
  // is released for the copy; `stream` as stream_of().
  uint64_t read_into(uintptr_t dst, size_t nbytes, int64_t history_len, bool latest_first,
                     std::optional<uintptr_t> stream) {
    std::shared_ptr<Consumer> c = consumer("read_into");
    check_history_len(history_len);
    return without_gil([&] {
      void* p = reinterpret_cast<void*>(dst);
      const auto count = static_cast<size_t>(history_len);
      return stream ? c->read_into(p, nbytes, count, latest_first, stream_of(stream))
                    : c->read_into(p, nbytes, count, latest_first);
    });
  }

  // "cpu", "cuda:N" (this process's numbering of the pool's GPU), or None
  // while a GPU pool is not attached.
  py::object device() {
    std::optional<Device> d = consumer("device")->device();
    if (!d) return py::none();
    return py::str(d->to_string());
  }

  py::object view() {
    std::shared_ptr<Consumer> c = consumer("view");
    std::optional<FrameView> v = c->view();  // no copy, no wait: keeps the GIL
    if (!v) return py::none();
    return py::cast(PyFrameView{std::move(*v), backend_});
  }

  // Waits in slices so that Ctrl-C (a KeyboardInterrupt raised by
  // PyErr_CheckSignals) ends the wait within one slice.
  bool wait_for_frame(std::optional<double> timeout_s) {
    std::shared_ptr<Consumer> c = consumer("wait_for_frame");
    using clock = std::chrono::steady_clock;
    const auto deadline =
        timeout_s ? clock::now() + std::chrono::duration_cast<clock::duration>(
                                       std::chrono::duration<double>(std::max(0.0, *timeout_s)))
                  : clock::time_point::max();
    constexpr auto kSlice = std::chrono::milliseconds(50);
    for (;;) {
      const auto now = clock::now();
      const auto left = deadline - now;
      const auto slice = left < kSlice ? left : clock::duration(kSlice);
      bool got = false;
      try {
        got = without_gil(
            [&] { return c->wait_for_frame(std::max(slice, clock::duration::zero())); });
      } catch (const StateError&) {
        if (!closed_) throw;  // cleaned up by another thread meanwhile: just stop
      }
      if (got) return true;
      if (PyErr_CheckSignals() != 0) throw py::error_already_set();
      if (closed_) return false;
      if (clock::now() >= deadline) return false;
    }
  }

  py::dict status() const {
    py::dict d;
    ConsumerStatus s;
    if (consumer_) {
      s = consumer_->status();
    } else {
      s.state = PoolState::kClosed;
    }
    d["state"] = state_name(s.state);
    d["producer_pid"] = s.producer_pid;
    d["latest_seq"] = s.latest_seq;
    d["dropped"] = s.dropped;
    d["skipped"] = s.skipped;
    d["delivered"] = state_->delivered.load(std::memory_order_relaxed);
    d["callback_errors"] = state_->errors.load(std::memory_order_relaxed);
    d["connected"] = s.connected;
    d["error"] = s.error;
    return d;
  }

  py::dict metadata() { return to_dict(consumer("metadata")->metadata()); }
  bool closed() const { return closed_; }

  // As PyProducer::abandon_after_fork: in a forked child the Consumer is
  // leaked, never used nor destroyed.
  void abandon_after_fork() {
    closed_ = true;
    forked_ = true;
    state_->closed.store(true, std::memory_order_release);
    state_->callable = nullptr;
    if (consumer_) new std::shared_ptr<Consumer>(std::move(consumer_));  // NOLINT: leaked
  }

  // Idempotent. On a callback thread (a callback calling cleanup(), or the
  // garbage collector running there) the library's threads cannot be
  // joined from within: callbacks stop at once and the rest finishes on a
  // reaper thread.
  void cleanup() {
    if (closed_) return;
    closed_ = true;
    state_->closed.store(true, std::memory_order_release);
    state_->consumer.store(nullptr, std::memory_order_release);
    state_->callable = nullptr;
    std::shared_ptr<Consumer> c = std::move(consumer_);
    if (!c) return;
    if (in_callback()) {
      reap([c = std::move(c)]() mutable {
        c->cleanup();
        c.reset();
      });
      return;
    }
    without_gil([&] {
      c->cleanup();
      c.reset();
    });
  }

 private:
  std::shared_ptr<Consumer> consumer(const char* what) const {
    if (closed_ || !consumer_) {
      park_if_exiting();
      if (forked_) {
        raise(PyError::kState, std::string(what) + " on pool '" + name_ +
                                   "': this consumer was made before this process was forked; "
                                   "it belongs to the parent process");
      }
      raise(PyError::kState, std::string(what) + " on pool '" + name_ + "' after cleanup()");
    }
    return consumer_;
  }

  void check_history_len(int64_t history_len) const {
    if (history_len < 1) {
      raise(PyError::kInvalidArgument, "get on pool '" + name_ + "': history_len " +
                                           std::to_string(history_len) + " must be at least 1");
    }
  }

  std::shared_ptr<CallbackState> state_;
  std::shared_ptr<Consumer> consumer_;  // null after cleanup()
  Backend backend_ = Backend::kNumpy;
  std::string name_;
  bool closed_ = false;  // guarded by the GIL
  bool forked_ = false;  // abandoned in a forked child
};

}  // namespace

void register_consumer(py::module_& m) {
  py::class_<PyFrameView>(m, "FrameView", R"doc(
The latest frame of a pool in shared memory, without a copy (TensorConsumer.view()).

The memory stays mapped while this object (or an array or DLPack capsule made
from it) lives, but it holds that frame only until the producer wraps round the
ring: read the data, then check still_valid(); data read before a True
still_valid() was that frame. The memory is read-only: numpy() gives a read-only
array; a torch tensor made with torch() or torch.from_dlpack() must not be
written to (torch has no read-only tensors; a write crashes the process).)doc")
      .def_property_readonly(
          "seq", [](const PyFrameView& v) { return v.view.seq(); },
          "The frame's sequence number (1, 2, ... over the pool's life).")
      .def_property_readonly(
          "timestamp_ns", [](const PyFrameView& v) { return v.view.timestamp_ns(); },
          "CLOCK_REALTIME (time.time_ns()) when the producer finished writing the frame.")
      .def_property_readonly("shape",
                             [](const PyFrameView& v) {
                               const Shape& s = v.view.tensor().shape();
                               py::tuple t(s.ndim());
                               for (size_t i = 0; i < s.ndim(); ++i) t[i] = s[i];
                               return t;
                             })
      .def_property_readonly(
          "dtype",
          [](const PyFrameView& v) { return std::string(dtype_name(v.view.tensor().dtype())); })
      .def_property_readonly("nbytes",
                             [](const PyFrameView& v) { return v.view.tensor().nbytes(); })
      .def(
          "still_valid", [](const PyFrameView& v) { return v.view.still_valid(); },
          "True while the producer has not started overwriting this frame's slot.")
      .def_property_readonly(
          "device", [](const PyFrameView& v) { return v.view.tensor().device().to_string(); },
          "'cpu', or 'cuda:N' for a GPU pool's frame (this process's numbering).")
      .def(
          "numpy",
          [](py::object self) {
            const PyFrameView& v = self.cast<const PyFrameView&>();
            if (v.on_gpu()) {
              raise(PyError::kFrameMismatch,
                    "this frame is in GPU memory (" + v.view.tensor().device().to_string() +
                        "): numpy cannot view it; use torch() (a CUDA tensor) or "
                        "get(as_numpy=True) (a copy in host memory)");
            }
            return readonly_numpy(v.view.tensor(), self);
          },
          "The frame as a read-only numpy array over the shared memory (no copy); host "
          "frames only.")
      .def(
          "torch", [](py::object self) { return torch_from_dlpack(self); },
          "The frame as a torch tensor over the shared memory (no copy; do not write to it); "
          "a GPU pool's frame is a CUDA tensor, ordered after the frame's write on torch's "
          "current stream.")
      .def(
          "__dlpack__",
          [](const PyFrameView& v, std::optional<int64_t> stream) {
            // DLPack: the consumer's stream must see the whole frame; -1
            // means the consumer asks for no ordering.
            if (v.on_gpu() && !(stream && *stream == -1)) {
              std::optional<uintptr_t> s;
              if (stream) s = static_cast<uintptr_t>(*stream);
              v.view.wait_on(stream_of(s));
            }
            return dlpack_capsule(v.view.to_dlpack());
          },
          py::arg("stream") = py::none(),
          "DLPack export (numpy.from_dlpack, torch.from_dlpack): no copy; read-only memory. "
          "For a GPU frame, `stream` (DLPack's convention) is made to wait for the frame's "
          "write.")
      .def("__dlpack_device__",
           [](const PyFrameView& v) {
             const Device d = v.view.tensor().device();
             return d.kind == MemoryKind::kCuda
                        ? py::make_tuple(static_cast<int>(kDLCUDA), d.ordinal)
                        : py::make_tuple(static_cast<int>(kDLCPU), 0);
           })
      .def("__repr__", [](const PyFrameView& v) {
        return "<tensor_ipc.FrameView seq=" + std::to_string(v.view.seq()) + " " +
               v.view.tensor().shape().to_string() + " " +
               std::string(dtype_name(v.view.tensor().dtype())) + ">";
      });

  py::class_<PyConsumer>(m, "Consumer",
                         "Internal: the C++ consumer behind tensor_ipc.TensorConsumer.")
      .def(py::init([](std::string name, std::vector<int64_t> shape, std::string dtype_str,
                       std::string backend_type, int64_t history_len, std::string device,
                       std::string payload_json, uint32_t keep_last, std::string socket_path,
                       double connect_timeout, std::string notify, py::object callback) {
             return std::make_unique<PyConsumer>(
                 MetadataArgs{std::move(name), std::move(shape), std::move(dtype_str),
                              std::move(backend_type), history_len, std::move(device),
                              std::move(payload_json)},
                 keep_last, std::move(socket_path), connect_timeout, notify, std::move(callback));
           }),
           py::arg("name"), py::arg("shape"), py::arg("dtype_str"), py::arg("backend_type"),
           py::arg("history_len"), py::arg("device"), py::arg("payload_json"), py::arg("keep_last"),
           py::arg("socket_path"), py::arg("connect_timeout"), py::arg("notify"),
           py::arg("callback"))
      .def("get", &PyConsumer::get, py::arg("history_len"), py::arg("latest_first"),
           py::arg("as_numpy"))
      .def("read_into", &PyConsumer::read_into, py::arg("dst"), py::arg("nbytes"),
           py::arg("history_len"), py::arg("latest_first"), py::arg("stream") = py::none())
      .def("device", &PyConsumer::device)
      .def("view", &PyConsumer::view)
      .def("wait_for_frame", &PyConsumer::wait_for_frame, py::arg("timeout"))
      .def("status", &PyConsumer::status)
      .def("metadata", &PyConsumer::metadata)
      .def_property_readonly("closed", &PyConsumer::closed)
      .def("cleanup", &PyConsumer::cleanup)
      .def("_abandon_after_fork", &PyConsumer::abandon_after_fork);
}

}  // namespace tensoripc::python
