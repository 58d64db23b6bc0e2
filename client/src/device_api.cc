#include <cstdlib>
#include <cstring>

#include "device_api.h"

namespace tensoripc::device {
namespace {

bool double_requested() {
  const char* backend = std::getenv("TENSORIPC_CUDA_BACKEND");
  return backend != nullptr && std::strcmp(backend, "host-double") == 0;
}

}  // namespace

Api* device_api() {
  if (double_requested()) return &host_double_api();
#ifdef TENSORIPC_HAVE_CUDA
  return &cuda_runtime_api();
#else
  return nullptr;
#endif
}

std::string device_api_unavailable() {
  return "this build of libtensoripc-client has no CUDA support (it was built without the CUDA "
         "toolkit, or with TENSORIPC_CUDA=OFF): GPU pools need a build with the toolkit";
}

}  // namespace tensoripc::device
