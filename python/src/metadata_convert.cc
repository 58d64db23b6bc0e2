#include "metadata_convert.h"

#include "tensoripc/error.h"

namespace tensoripc::python {

PoolMetadata to_metadata(const MetadataArgs& a) {
  const auto dtype = parse_dtype_lenient(a.dtype_str);
  if (!dtype) {
    throw InvalidArgumentError("pool '" + a.name + "': dtype_str '" + a.dtype_str +
                               "' is not a dtype tensor-ipc knows; use one of " +
                               dtype_names_joined());
  }
  if (a.history_len < 1 || a.history_len > UINT32_MAX) {
    throw InvalidArgumentError("pool '" + a.name + "': history_len " +
                               std::to_string(a.history_len) + " is not within 1.." +
                               std::to_string(UINT32_MAX));
  }
  PoolMetadata md;
  md.name = a.name;
  md.shape = a.shape;
  md.dtype = *dtype;
  md.backend_type = a.backend_type;
  md.history_len = static_cast<uint32_t>(a.history_len);
  md.device = a.device;
  md.payload_json = a.payload_json;
  md.validate_and_complete();
  return md;
}

py::dict to_dict(const PoolMetadata& md) {
  py::dict d;
  d["name"] = md.name;
  d["shape"] = md.shape;
  d["dtype_str"] = std::string(md.dtype_str());
  d["backend_type"] = md.backend_type;
  d["history_len"] = md.history_len;
  d["device"] = md.device;
  d["element_size"] = md.element_size;
  d["total_size"] = md.total_size;
  d["shm_name"] = md.shm_name;
  d["creator_pid"] = md.creator_pid;
  d["payload_json"] = md.payload_json;
  return d;
}

void register_metadata(py::module_& m) {
  m.def(
      "complete_metadata",
      [](std::string name, std::vector<int64_t> shape, std::string dtype_str,
         std::string backend_type, int64_t history_len, std::string device,
         std::string payload_json) {
        return to_dict(to_metadata(MetadataArgs{
            std::move(name), std::move(shape), std::move(dtype_str), std::move(backend_type),
            history_len, std::move(device), std::move(payload_json)}));
      },
      py::arg("name"), py::arg("shape"), py::arg("dtype_str"), py::arg("backend_type"),
      py::arg("history_len"), py::arg("device"), py::arg("payload_json"),
      "Validates a pool's metadata with the library's rules and returns every field "
      "completed (dtype_str in numpy's name, element_size, total_size); "
      "InvalidArgumentError (a ValueError) with the reason.");
  m.def(
      "dtype_names", [] { return dtype_names_joined(); },
      "The dtypes a pool can hold, by numpy's names.");
}

}  // namespace tensoripc::python
