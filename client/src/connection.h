// The daemon connection: one gRPC channel per socket path per process, shared
// by every producer and consumer in it, and the mapping of gRPC statuses to
// the library's exceptions.
#pragma once

#include <grpcpp/grpcpp.h>

#include <chrono>
#include <memory>
#include <string>

#include "common/status.h"
#include "tensoripc/v1/broker.grpc.pb.h"

namespace tensoripc {

// A channel to tensor-ipcd and its stub. gRPC reconnects the channel by
// itself (with back-off capped at a second here, not gRPC's two minutes), so
// a restarted daemon is picked up quickly. Thread-safe; shared by shared_ptr.
class Connection {
 public:
  // The shared connection for `socket_path` ("" resolves it as the daemon
  // does); created on first use, released with its last user.
  static std::shared_ptr<Connection> get(const std::string& socket_path);

  const std::string& socket_path() const { return socket_path_; }
  v1::Broker::Stub& stub() { return *stub_; }
  // Waits up to `timeout` for the channel to be connected. When the socket
  // file does not exist (no daemon: nothing to wait for) it gives up after
  // kSocketGrace for it to appear (a daemon restarting) instead.
  bool wait_connected(std::chrono::milliseconds timeout);
  static constexpr std::chrono::milliseconds kSocketGrace{250};

  explicit Connection(std::string socket_path);

 private:
  std::string socket_path_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<v1::Broker::Stub> stub_;
};

// Throws DaemonUnavailableError naming the socket and how to start the daemon.
[[noreturn]] void throw_daemon_unavailable(const std::string& socket_path,
                                           const std::string& detail);

// Throws the exception for a failed call about pool `pool`:
// ALREADY_EXISTS -> TopicTakenError (with the holder pid the status carries),
// INVALID_ARGUMENT -> InvalidArgumentError, RESOURCE_EXHAUSTED ->
// ResourceExhaustedError, UNAVAILABLE -> DaemonUnavailableError, anything
// else -> Error.
[[noreturn]] void throw_for_status(const Status& status, const std::string& pool,
                                   const std::string& socket_path);

}  // namespace tensoripc
