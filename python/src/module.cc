// tensor_ipc._core: the pybind11 module under the tensor_ipc package. It is
// thin on purpose: libtensoripc-client does the work; the package's Python
// files give it the seed's API (names, arguments, defaults, errors).
#include <pybind11/pybind11.h>

#include <chrono>
#include <optional>

#include "bindings.h"
#include "errors.h"
#include "lifecycle.h"
#include "metadata_convert.h"
#include "tensoripc/daemon.h"
#include "tensoripc/tensor.h"

namespace py = pybind11;

PYBIND11_MODULE(_core, m) {
  m.doc() = "tensor-ipc's C++ core (libtensoripc-client); use the tensor_ipc package.";
  m.attr("__version__") = TENSORIPC_VERSION;
  // Whether libtensoripc-client serves GPU pools (built with the CUDA toolkit).
  m.attr("built_with_cuda") = tensoripc::built_with_cuda();
  tensoripc::python::register_errors(m);
  tensoripc::python::register_lifecycle(m);
  tensoripc::python::register_metadata(m);
  tensoripc::python::register_producer(m);
  tensoripc::python::register_consumer(m);
#ifdef TENSORIPC_HAVE_ROS2
  tensoripc::python::register_ros2(m);
#endif
  m.attr("built_with_ros2") =
#ifdef TENSORIPC_HAVE_ROS2
      true;
#else
      false;
#endif
  m.def(
      "pool_metadata",
      [](const std::string& name, const std::string& socket_path,
         double connect_timeout) -> py::object {
        std::optional<tensoripc::PoolInfo> info;
        {
          py::gil_scoped_release released;
          tensoripc::DaemonClient daemon(
              socket_path, std::chrono::milliseconds(static_cast<int64_t>(connect_timeout * 1000)));
          info = daemon.get_pool(name);
        }
        if (!info) return py::none();
        return tensoripc::python::to_dict(info->metadata);
      },
      py::arg("name"), py::arg("socket_path"), py::arg("connect_timeout"),
      "The metadata of the pool `name` as tensor-ipcd has it (a dict of PoolMetadata's "
      "fields), or None when there is no such pool.");
}
