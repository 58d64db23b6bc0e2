// The pieces of the _core module, each registered by its own file.
#pragma once

#include <pybind11/pybind11.h>

namespace tensoripc::python {

namespace py = pybind11;

void register_producer(py::module_& m);
void register_consumer(py::module_& m);

}  // namespace tensoripc::python
