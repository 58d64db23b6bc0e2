// gRPC stubs for a DaemonProcess, for tests that speak the contract to the
// daemon themselves (tests/daemon). Links the generated protobuf code: a test
// that also links libtensoripc-client must not use this.
#pragma once

#include <grpcpp/grpcpp.h>

#include <memory>

#include "tensoripc/v1/broker.grpc.pb.h"
#include "tests/support/process.h"

namespace tensoripc::testing {

// A channel to the daemon's socket with a short reconnect back-off (gRPC's
// default, 1 s and growing, would make a test wait seconds after a restart).
std::shared_ptr<grpc::Channel> broker_channel(const DaemonProcess& daemon);
std::unique_ptr<v1::Broker::Stub> broker_stub(const DaemonProcess& daemon);

// The socket a stub made by broker_stub() talks to (for the descriptor
// channel beside it); empty for another stub.
std::string socket_path_of(const v1::Broker::Stub& stub);

}  // namespace tensoripc::testing
