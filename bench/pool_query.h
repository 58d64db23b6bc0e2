// Asks a tensor-ipcd what it knows of a pool (Broker.GetPool), through a
// generic gRPC stub and the wire-compatible subset in
// tensoripc_bench/broker_subset.proto, so that a benchmark can wait for the
// daemon to see consumers come and go without linking the library's
// generated code a second time.
#pragma once

#include <grpcpp/generic/generic_stub.h>
#include <grpcpp/grpcpp.h>
// grpc::SerializationTraits for protobuf messages (what generated stubs include).
#include <grpcpp/impl/codegen/proto_utils.h>

#include <chrono>
#include <memory>
#include <optional>
#include <string>

#include "tensoripc_bench/broker_subset.pb.h"

namespace tensoripc::bench {

// One channel to the daemon on `socket_path`. Thread-compatible.
class PoolQuerier {
 public:
  explicit PoolQuerier(const std::string& socket_path);

  // The pool's stats as the daemon has them now; nullopt when it has no such
  // pool or did not answer within a second.
  std::optional<PoolStatsSubset> stats(const std::string& pool);

  // Polls stats() until the daemon counts `subscribers` on the pool, or
  // `timeout` passes. Returns how long it took, or nullopt on timeout.
  std::optional<std::chrono::milliseconds> wait_for_subscribers(const std::string& pool,
                                                                uint32_t subscribers,
                                                                std::chrono::milliseconds timeout);

 private:
  std::shared_ptr<grpc::Channel> channel_;
  grpc::TemplatedGenericStub<PoolQuery, PoolInfoSubset> stub_;
};

}  // namespace tensoripc::bench
