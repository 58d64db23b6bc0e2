#include "tests/support/broker_stub.h"

namespace tensoripc::testing {

std::shared_ptr<grpc::Channel> broker_channel(const DaemonProcess& daemon) {
  grpc::ChannelArguments args;
  args.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, 20);
  args.SetInt(GRPC_ARG_MIN_RECONNECT_BACKOFF_MS, 20);
  args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, 200);
  return grpc::CreateCustomChannel("unix:" + daemon.socket_path(),
                                   grpc::InsecureChannelCredentials(), args);
}

std::unique_ptr<v1::Broker::Stub> broker_stub(const DaemonProcess& daemon) {
  return v1::Broker::NewStub(broker_channel(daemon));
}

}  // namespace tensoripc::testing
