// How the GPU-pool tests see who holds the host double's device memory
// (client/src/device_api.h): each mapping of it shows in /proc/PID/maps as
// "memfd:tipc-cuda-double:<pool>".
#pragma once

#include <sys/types.h>

#include <fstream>
#include <string>

namespace tensoripc::testing {

// Mappings of the host double's device memory of pool `name` in process `pid`.
inline int double_mappings(pid_t pid, const std::string& name) {
  std::ifstream maps("/proc/" + std::to_string(pid) + "/maps");
  const std::string needle = "memfd:tipc-cuda-double:" + name + " ";
  int n = 0;
  for (std::string line; std::getline(maps, line);) {
    if (line.find(needle) != std::string::npos) ++n;
  }
  return n;
}

}  // namespace tensoripc::testing
