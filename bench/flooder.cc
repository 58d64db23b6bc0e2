#include "flooder.h"

#include <grpcpp/generic/generic_stub.h>
#include <grpcpp/grpcpp.h>
#include <grpcpp/impl/codegen/proto_utils.h>
#include <signal.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <memory>
#include <thread>
#include <vector>

#include "support.h"
#include "tensoripc_bench/broker_subset.pb.h"

namespace tensoripc::bench {
namespace {
constexpr int kStreamsPerChannel = 100;

}  // namespace

int run_flooder(const std::string& socket, const std::string& name, int streams,
                uint32_t keep_last) {
  const sigset_t stop = block_stop_signals();

  SubscribeSubset request;
  request.set_name(name);
  request.set_keep_last(keep_last);
  grpc::ByteBuffer bytes;
  bool own = false;
  if (!grpc::SerializationTraits<SubscribeSubset>::Serialize(request, &bytes, &own).ok()) return 1;

  // Each call: StartCall, and once that completes, its one write (the
  // request and the half-close together). Then it is left alone.
  struct Call {
    grpc::ClientContext context;
    std::unique_ptr<grpc::GenericClientAsyncReaderWriter> stream;
    bool started = false;
  };
  grpc::CompletionQueue cq;
  std::atomic<int> written{0};
  std::thread drain([&] {
    void* tag = nullptr;
    bool ok = false;
    while (cq.Next(&tag, &ok)) {
      auto* call = static_cast<Call*>(tag);
      if (!call->started) {
        call->started = true;
        if (ok) {
          call->stream->WriteLast(bytes, grpc::WriteOptions(), call);
          continue;
        }
      }
      written.fetch_add(1);
    }
  });
  std::vector<std::unique_ptr<grpc::GenericStub>> stubs;
  std::vector<std::unique_ptr<Call>> calls;
  for (int i = 0; i < streams; ++i) {
    if (i % kStreamsPerChannel == 0) {
      grpc::ChannelArguments args;
      args.SetInt("tipc.bench.flood_channel", i);  // distinct args: a connection of its own
      stubs.push_back(std::make_unique<grpc::GenericStub>(grpc::CreateCustomChannel(
          "unix:" + socket, grpc::InsecureChannelCredentials(), args)));
    }
    auto call = std::make_unique<Call>();
    call->stream =
        stubs.back()->PrepareCall(&call->context, "/tensoripc.v1.Broker/Subscribe", &cq);
    call->stream->StartCall(call.get());
    calls.push_back(std::move(call));
  }
  while (written.load() < streams) std::this_thread::sleep_for(std::chrono::milliseconds(5));
  std::printf("ready\n");
  std::fflush(stdout);
  wait_for_stop(stop);
  for (auto& c : calls) c->context.TryCancel();
  calls.clear();
  cq.Shutdown();
  drain.join();
  return 0;
}


}  // namespace tensoripc::bench
