// tensoripc::Status to grpc::Status: the codes match numerically by design.
#pragma once

#include <grpcpp/support/status.h>

#include "common/status.h"

namespace tensoripc::daemon {

inline grpc::Status to_grpc(const Status& s) {
  if (s.ok()) return grpc::Status::OK;
  return grpc::Status(static_cast<grpc::StatusCode>(s.code()), s.message());
}

}  // namespace tensoripc::daemon
