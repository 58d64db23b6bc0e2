// PoolMetadata across the boundary: the package passes a PoolMetadata's
// fields as plain values (checked for type in Python), C++ validates them
// with the library's own rules and hands completed fields back as a dict.
#pragma once

#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <cstdint>
#include <string>
#include <vector>

#include "tensoripc/metadata.h"

namespace tensoripc::python {

namespace py = pybind11;

struct MetadataArgs {
  std::string name;
  std::vector<int64_t> shape;
  std::string dtype_str;
  std::string backend_type;
  int64_t history_len = 1;
  std::string device;
  std::string payload_json;
};

// The library's PoolMetadata for `args`, validated and completed
// (element_size, total_size); InvalidArgumentError with the reason.
PoolMetadata to_metadata(const MetadataArgs& args);

// Every field, as keyword arguments for tensor_ipc.PoolMetadata.
py::dict to_dict(const PoolMetadata& md);

// _core.complete_metadata.
void register_metadata(py::module_& m);

}  // namespace tensoripc::python
