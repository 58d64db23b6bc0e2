// What the fuzz targets share: an invariant check that aborts (a finding),
// and protobuf kept quiet about the malformed strings it is fed on purpose.
#pragma once

#include <google/protobuf/stubs/logging.h>

#include <cstdlib>
#include <string>

namespace tensoripc::fuzz {

inline void check(bool ok) {
  if (!ok) std::abort();
}

inline void quiet_protobuf() {
  google::protobuf::SetLogHandler(
      [](google::protobuf::LogLevel, const char*, int, const std::string&) {});
}

}  // namespace tensoripc::fuzz
