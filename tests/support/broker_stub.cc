#include "tests/support/broker_stub.h"

#include <map>
#include <mutex>
#include <string>

namespace tensoripc::testing {

std::shared_ptr<grpc::Channel> broker_channel(const DaemonProcess& daemon) {
  grpc::ChannelArguments args;
  args.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, 20);
  args.SetInt(GRPC_ARG_MIN_RECONNECT_BACKOFF_MS, 20);
  args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, 200);
  return grpc::CreateCustomChannel("unix:" + daemon.socket_path(),
                                   grpc::InsecureChannelCredentials(), args);
}

namespace {
std::mutex stubs_mu;
std::map<const v1::Broker::Stub*, std::string> stub_sockets;  // stubs are few and short-lived
}  // namespace

std::unique_ptr<v1::Broker::Stub> broker_stub(const DaemonProcess& daemon) {
  auto stub = v1::Broker::NewStub(broker_channel(daemon));
  std::lock_guard<std::mutex> lock(stubs_mu);
  stub_sockets[stub.get()] = daemon.socket_path();
  return stub;
}

std::string socket_path_of(const v1::Broker::Stub& stub) {
  std::lock_guard<std::mutex> lock(stubs_mu);
  auto it = stub_sockets.find(&stub);
  return it == stub_sockets.end() ? std::string() : it->second;
}

}  // namespace tensoripc::testing
