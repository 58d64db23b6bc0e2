// _core.Producer: a tensoripc::Producer for tensor_ipc.TensorProducer.
// put() takes the caller's array as it is (a view of its memory, no copy)
// and copies it once, into the pool's slot, with the GIL released.
#include <chrono>
#include <memory>

#include "bindings.h"
#include "convert.h"
#include "errors.h"
#include "gil.h"
#include "lifecycle.h"
#include "metadata_convert.h"

namespace tensoripc::python {
namespace {

// Thread-safe as Producer is: put() from any thread, cleanup() from any
// thread (a put() in flight finishes first). The Producer is shared so that
// a call holding it without the GIL outlives a concurrent cleanup().
class PyProducer {
 public:
  PyProducer(const MetadataArgs& args, uint32_t keep_last, std::string socket_path,
             double connect_timeout_s) {
    PoolMetadata md = to_metadata(args);
    backend_ = parse_backend(md.backend_type);
    name_ = md.name;
    ProducerOptions options;
    options.keep_last = keep_last;
    options.socket_path = std::move(socket_path);
    options.connect_timeout =
        std::chrono::milliseconds(static_cast<int64_t>(connect_timeout_s * 1000.0));
    producer_ = without_gil([&] {
      BlockSignals quiet;  // the producer's threads must never take Ctrl-C
      return std::make_shared<Producer>(std::move(md), std::move(options));
    });
  }

  // pybind11 destroys it with the GIL held.
  ~PyProducer() {
    closed_ = true;
    std::shared_ptr<Producer> p = std::move(producer_);
    if (!p) return;
    try {
      without_gil([&] { p.reset(); });
    } catch (const std::exception&) {  // a destructor never throws
    }
  }

  // The frame index (the slot written) and the frame's sequence number.
  // `stream`: a GPU pool's copy is queued there (stream_of()); None for the
  // producer's default stream.
  std::pair<uint64_t, uint64_t> put(py::handle data, bool is_torch,
                                    std::optional<uintptr_t> stream) {
    std::shared_ptr<Producer> p = producer();
    py::object keep;
    const TensorView view =
        is_torch ? view_of_torch(data, &keep, name_) : view_of_numpy(data, &keep, name_);
    PutResult r;
    try {
      r = without_gil([&] { return stream ? p->put(view, stream_of(stream)) : p->put(view); });
    } catch (const InvalidArgumentError& e) {
      raise(PyError::kFrameMismatch, e.what());
    }
    return {r.slot, r.seq};
  }

  py::dict metadata() { return to_dict(producer()->metadata()); }
  uint64_t latest_seq() { return producer()->latest_seq(); }
  bool connected() { return producer_ && producer_->connected(); }
  bool closed() const { return closed_; }

  // In a child forked from this process: the library's threads did not
  // survive the fork, so the Producer must be neither used nor destroyed
  // (its destructor would join threads that do not exist here). Leaked.
  void abandon_after_fork() {
    closed_ = true;
    forked_ = true;
    if (producer_) new std::shared_ptr<Producer>(std::move(producer_));  // NOLINT: leaked
  }

  void cleanup() {
    closed_ = true;
    std::shared_ptr<Producer> p = producer_;
    if (!p) return;
    without_gil([&] { p->cleanup(); });
  }

 private:
  std::shared_ptr<Producer> producer() const {
    if (closed_) {
      park_if_exiting();
      if (forked_) {
        raise(PyError::kState, "producer of pool '" + name_ +
                                   "' was made before this process was forked; it belongs to "
                                   "the parent process");
      }
      raise(PyError::kState, "producer of pool '" + name_ + "' used after cleanup()");
    }
    return producer_;
  }

  std::shared_ptr<Producer> producer_;
  Backend backend_ = Backend::kNumpy;
  std::string name_;
  bool closed_ = false;  // guarded by the GIL
  bool forked_ = false;  // abandoned in a forked child
};

}  // namespace

void register_producer(py::module_& m) {
  py::class_<PyProducer>(m, "Producer",
                         "Internal: the C++ producer behind tensor_ipc.TensorProducer.")
      .def(py::init([](std::string name, std::vector<int64_t> shape, std::string dtype_str,
                       std::string backend_type, int64_t history_len, std::string device,
                       std::string payload_json, uint32_t keep_last, std::string socket_path,
                       double connect_timeout) {
             return std::make_unique<PyProducer>(
                 MetadataArgs{std::move(name), std::move(shape), std::move(dtype_str),
                              std::move(backend_type), history_len, std::move(device),
                              std::move(payload_json)},
                 keep_last, std::move(socket_path), connect_timeout);
           }),
           py::arg("name"), py::arg("shape"), py::arg("dtype_str"), py::arg("backend_type"),
           py::arg("history_len"), py::arg("device"), py::arg("payload_json"), py::arg("keep_last"),
           py::arg("socket_path"), py::arg("connect_timeout"))
      .def("put", &PyProducer::put, py::arg("data"), py::arg("is_torch"),
           py::arg("stream") = py::none())
      .def("metadata", &PyProducer::metadata)
      .def_property_readonly("latest_seq", &PyProducer::latest_seq)
      .def_property_readonly("connected", &PyProducer::connected)
      .def_property_readonly("closed", &PyProducer::closed)
      .def("cleanup", &PyProducer::cleanup)
      .def("_abandon_after_fork", &PyProducer::abandon_after_fork);
}

}  // namespace tensoripc::python
