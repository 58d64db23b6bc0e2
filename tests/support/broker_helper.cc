// A bare gRPC client of tensor-ipcd in a process of its own: for the tests
// that kill or freeze one, and for tests that link the client library (which
// keeps the generated protobuf code to itself) but must call the daemon.
//   tipc_broker_helper SOCKET POOL [FRAMES]
// claims POOL (uint8 [16], history_len 4) through the gRPC stub, fetches
// its memory on the descriptor channel, prints "CLAIMED <generation>", writes
// FRAMES frames into the ring (the daemon reads them from there), printing
// "PUBLISHED <seq>" for each, then sleeps until killed. On refusal it prints
// "REFUSED <code> <message>" and exits 3.
//   tipc_broker_helper SOCKET POOL gpu
// claims POOL as a GPU pool with stand-in CUDA IPC handles
// (tests/support/gpu_claim.h), prints "CLAIMED <generation>" and sleeps until
// killed: GetPool then shows the handles, with no GPU anywhere.
//   tipc_broker_helper SOCKET POOL subscribe
// subscribes to POOL with keep_last 4, reads the first event, prints
// "SUBSCRIBED", and then never reads again (a stuck subscriber).
//   tipc_broker_helper SOCKET POOL info
// prints what GetPool says of POOL's device memory, "INFO device=<d>
// sharing=<n> ordinal=<n> uuid=<hex> memory_handle=<hex> allocation_size=<n>
// slot_stride=<n> events=<n>", and exits 0; "REFUSED ..." and 3 on an error.
//   tipc_broker_helper SOCKET POOL delete
// deletes POOL with force, prints "DELETED" and exits 0, or prints
// "REFUSED <code> <message>" and exits 3.
#include <grpcpp/grpcpp.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "common/descriptor_channel.h"
#include "pool/cuda_memory.h"  // to_hex
#include "pool/mapping.h"
#include "pool/ring.h"
#include "proto/wire.h"
#include "tests/support/gpu_claim.h"
#include "tensoripc/v1/broker.grpc.pb.h"

int main(int argc, char** argv) {
  if (argc < 3) {
    std::fprintf(stderr, "usage: %s SOCKET POOL [NOTICES]\n", argv[0]);
    return 2;
  }
  std::setvbuf(stdout, nullptr, _IOLBF, 0);
  auto channel =
      grpc::CreateChannel(std::string("unix:") + argv[1], grpc::InsecureChannelCredentials());
  auto stub = tensoripc::v1::Broker::NewStub(channel);
  if (argc > 3 && std::string(argv[3]) == "delete") {
    grpc::ClientContext ctx;
    tensoripc::v1::DeletePoolRequest req;
    req.set_name(argv[2]);
    req.set_force(true);
    tensoripc::v1::DeletePoolResponse resp;
    const grpc::Status st = stub->DeletePool(&ctx, req, &resp);
    if (!st.ok()) {
      std::printf("REFUSED %d %s\n", static_cast<int>(st.error_code()), st.error_message().c_str());
      return 3;
    }
    std::printf("DELETED\n");
    return 0;
  }
  if (argc > 3 && std::string(argv[3]) == "info") {
    grpc::ClientContext ctx;
    tensoripc::v1::GetPoolRequest req;
    req.set_name(argv[2]);
    tensoripc::v1::PoolInfo info;
    const grpc::Status st = stub->GetPool(&ctx, req, &info);
    if (!st.ok()) {
      std::printf("REFUSED %d %s\n", static_cast<int>(st.error_code()), st.error_message().c_str());
      return 3;
    }
    const auto& c = info.cuda();
    std::printf(
        "INFO device=%s sharing=%d ordinal=%d uuid=%s memory_handle=%s allocation_size=%llu "
        "slot_stride=%llu events=%d\n",
        info.metadata().device().c_str(), static_cast<int>(c.sharing()), c.device_ordinal(),
        tensoripc::to_hex(c.device_uuid()).c_str(), tensoripc::to_hex(c.memory_handle()).c_str(),
        static_cast<unsigned long long>(c.allocation_size()),
        static_cast<unsigned long long>(c.slot_stride()), c.event_handles_size());
    return 0;
  }
  if (argc > 3 && std::string(argv[3]) == "subscribe") {
    grpc::ClientContext ctx;
    tensoripc::v1::SubscribeRequest req;
    req.set_name(argv[2]);
    req.set_keep_last(4);
    req.set_pid(::getpid());
    auto reader = stub->Subscribe(&ctx, req);
    tensoripc::v1::SubscribeEvent ev;
    if (!reader->Read(&ev)) return 3;
    std::printf("SUBSCRIBED\n");
    for (;;) ::pause();
  }
  // A GPU pool with stand-in handles, or uint8 [16] x 4 on the host.
  const bool gpu = argc > 3 && std::string(argv[3]) == "gpu";
  tensoripc::v1::ProducerMessage msg;
  tensoripc::v1::ClaimPool* claim = msg.mutable_claim();
  if (gpu) {
    *claim = tensoripc::testing::gpu_claim_of(argv[2]);
  } else {
    claim->mutable_metadata()->set_name(argv[2]);
    claim->mutable_metadata()->add_shape(16);
    claim->mutable_metadata()->set_dtype_str("uint8");
    claim->mutable_metadata()->set_history_len(4);
  }
  claim->set_pid(::getpid());
  grpc::ClientContext ctx;
  auto stream = stub->ProducerSession(&ctx);
  stream->Write(msg);
  tensoripc::v1::ProducerEvent ev;
  if (!stream->Read(&ev)) {
    grpc::Status st = stream->Finish();
    std::printf("REFUSED %d %s\n", static_cast<int>(st.error_code()), st.error_message().c_str());
    return 3;
  }
  if (gpu) {  // nothing to map: the frames would be on the device
    std::printf("CLAIMED %llu\n",
                static_cast<unsigned long long>(ev.granted().layout().generation()));
    for (;;) ::pause();
  }
  const int frames = argc > 3 ? std::atoi(argv[3]) : 0;
  auto grant = tensoripc::wire::from_proto(ev.granted());
  if (!grant.ok()) return 4;
  auto memory =
      tensoripc::fetch_descriptor(argv[1], grant->descriptor_token, std::chrono::seconds(5));
  if (!memory.ok()) {
    std::printf("NO-MEMORY %s\n", memory.status().message().c_str());
    return 4;
  }
  auto mapping = tensoripc::PoolMapping::open(std::move(*memory), grant->layout, grant->metadata,
                                              tensoripc::PoolMapping::Role::kProducer);
  if (!mapping.ok()) {
    std::printf("NO-MEMORY %s\n", mapping.status().message().c_str());
    return 4;
  }
  std::printf("CLAIMED %llu\n",
              static_cast<unsigned long long>(ev.granted().layout().generation()));
  uint64_t seq = ev.granted().latest_seq();
  for (int i = 0; i < frames; ++i) {
    ++seq;
    tensoripc::write_frame(**mapping, seq, nullptr);
    std::printf("PUBLISHED %llu\n", static_cast<unsigned long long>(seq));
  }
  for (;;) ::pause();
}
