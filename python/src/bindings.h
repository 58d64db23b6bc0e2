// The pieces of the _core module, each registered by its own file.
#pragma once

#include <pybind11/pybind11.h>

namespace tensoripc::python {

namespace py = pybind11;

void register_producer(py::module_& m);
void register_consumer(py::module_& m);
// _core.ros2, where the ROS 2 bridge is built (TENSORIPC_HAVE_ROS2).
void register_ros2(py::module_& m);

}  // namespace tensoripc::python
