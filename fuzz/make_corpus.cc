// Writes the seed corpus of the fuzz targets (fuzz/corpus/<target>/): one
// well-formed input of each kind a target takes, made with the project's own
// conversions, so the fuzzers start from what the daemon and clients really
// exchange. `scripts/fuzz.sh --seed` runs it; its output is committed.
//
//   make_corpus OUT_DIR
#include <cstdio>
#include <cstring>
#include <fstream>
#include <string>
#include <vector>

#include "common/descriptor_channel.h"
#include "google/rpc/status.pb.h"
#include "pool/cuda_memory.h"
#include "pool/layout.h"
#include "pool/model.h"
#include "proto/wire.h"

namespace {

using namespace tensoripc;

std::string out_dir;

void write(const std::string& target, const std::string& name, char kind, const std::string& body) {
  const std::string path = out_dir + "/" + target + "/" + name;
  std::ofstream f(path, std::ios::binary);
  f.put(kind);
  f << body;
  if (!f) {
    std::fprintf(stderr, "cannot write %s\n", path.c_str());
    std::exit(1);
  }
}

PoolMetadata completed(PoolMetadata md) {
  if (!complete_metadata(&md, PoolLimits()).ok()) std::abort();
  md.shm_name = "tensoripc." + md.name;
  md.creator_pid = 4242;
  return md;
}

PoolMetadata metadata(std::string name, std::vector<int64_t> shape, DType dtype,
                      uint32_t history_len, std::string device) {
  PoolMetadata md;  // PoolMetadata::create is the client library's
  md.name = std::move(name);
  md.shape = std::move(shape);
  md.dtype = dtype;
  md.history_len = history_len;
  md.device = std::move(device);
  md.backend_type = "";
  return completed(md);
}

PoolMetadata camera() { return metadata("camera", {480, 640, 3}, DType::kUInt8, 4, "cpu"); }

PoolMetadata gpu() { return metadata("gpu_frames", {256, 256}, DType::kFloat32, 2, "cuda:0"); }

CudaMemory gpu_memory(const PoolMetadata& md) {
  CudaMemory c;
  c.sharing = CudaMemory::Sharing::kLegacyIpc;
  c.memory_handle = std::string(kCudaIpcHandleBytes, '\x11');
  c.slot_stride = (frame_bytes(md) + kCudaFrameAlign - 1) / kCudaFrameAlign * kCudaFrameAlign;
  c.data_offset = 0;
  const uint64_t need = c.slot_stride * md.history_len;
  c.allocation_size =
      (need + kCudaAllocationGranularity - 1) / kCudaAllocationGranularity * kCudaAllocationGranularity;
  for (uint32_t i = 0; i < md.history_len; ++i) {
    c.event_handles.push_back(std::string(kCudaIpcHandleBytes, static_cast<char>(0x21 + i)));
  }
  c.device_ordinal = 0;
  c.device_uuid = std::string(kCudaUuidBytes, '\x42');
  if (!check_cuda_memory(md, c).ok()) std::abort();
  return c;
}

void claim_corpus() {
  for (const auto& [name, md] : {std::pair{"claim_host", camera()}, std::pair{"claim_gpu", gpu()}}) {
    Claim c;
    c.metadata = md;
    c.pid = 1;
    if (md.device != "cpu") c.cuda = gpu_memory(md);
    v1::ProducerMessage msg;
    wire::to_proto(c, msg.mutable_claim());
    write("fuzz_claim", name, 0, msg.SerializeAsString());
  }
  v1::SubscribeRequest sub;
  sub.set_name("camera");
  sub.set_keep_last(10);
  sub.set_lifecycle_only(true);
  write("fuzz_claim", "subscribe", 1, sub.SerializeAsString());
  write("fuzz_claim", "descriptor_get", 2,
        format_descriptor_request({DescriptorRequest::Verb::kGet, std::string(32, 'a')}));
  write("fuzz_claim", "descriptor_give", 2,
        format_descriptor_request({DescriptorRequest::Verb::kGive, "camera"}));
  write("fuzz_claim", "descriptor_answer", 2, descriptor_ok(kDescriptorKindMemfd));
}

void wire_corpus() {
  const PoolMetadata md = camera();
  const Layout layout = compute_layout(md);
  auto attached = std::make_shared<PoolEvent>();
  attached->kind = PoolEvent::Kind::kAttached;
  attached->metadata = md;
  attached->layout = layout;
  attached->producer_pid = 4242;
  attached->latest_seq = 7;
  attached->descriptor_token = std::string(32, 'b');
  StreamEvent ev;
  ev.lifecycle = attached;
  v1::SubscribeEvent p;
  wire::to_proto(ev, &p);
  write("fuzz_wire", "event_attached", 0, p.SerializeAsString());
  StreamEvent frame;
  frame.frame = FrameStamp{8, 0, 1796139265325258044};
  frame.dropped = 2;
  v1::SubscribeEvent f;
  wire::to_proto(frame, &f);
  write("fuzz_wire", "event_frame", 0, f.SerializeAsString());

  Grant g;
  g.metadata = md;
  g.layout = layout;
  g.latest_seq = 7;
  g.producer_pid = 4242;
  g.descriptor_token = std::string(32, 'c');
  v1::PoolGranted pg;
  wire::to_proto(g, &pg);
  write("fuzz_wire", "granted", 1, pg.SerializeAsString());

  PoolRecord r;
  r.metadata = gpu();
  r.layout = compute_layout(r.metadata);
  r.cuda = gpu_memory(r.metadata);
  r.stats.latest_seq = 99;
  r.stats.created_unix_ns = 1796139265325258044;
  r.stats.subscriber.push_back(SubscriberStats{77, 10, 5, 1, 0, false});
  v1::PoolInfo pi;
  wire::to_proto(r, &pi);
  write("fuzz_wire", "pool_info", 2, pi.SerializeAsString());

  DaemonInfo d;
  d.version = "0.1.0";
  d.pid = 1;
  d.started_unix_ns = 1796139265325258044;
  d.socket_path = "/run/tensor-ipc/tensor-ipcd.sock";
  v1::DaemonInfo di;
  wire::to_proto(d, &di);
  write("fuzz_wire", "daemon_info", 3, di.SerializeAsString());

  Status taken = already_exists("topic 'camera' is already published by pid 4242");
  taken.set_holder_pid(4242);
  write("fuzz_wire", "status_details", 4, wire::to_grpc(taken).error_details());
}

void header_corpus() {
  for (const auto& [name, md] : {std::pair{"header_host", camera()}, std::pair{"header_gpu", gpu()}}) {
    const Layout l = compute_layout(md);
    std::vector<unsigned char> page(kHeaderSize + 64);
    void* base = page.data() + (64 - reinterpret_cast<uintptr_t>(page.data()) % 64) % 64;
    std::memset(base, 0, kHeaderSize);
    init_header(base, l, md, 3, 1796139265325258044);
    std::string body(8, '\0');
    const uint64_t mapped = l.segment_size;
    std::memcpy(body.data(), &mapped, 8);
    body.append(static_cast<const char*>(base), kHeaderSize);
    write("fuzz_segment_header", name, 1, body);
  }
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: make_corpus OUT_DIR\n");
    return 2;
  }
  out_dir = argv[1];
  claim_corpus();
  wire_corpus();
  header_corpus();
  return 0;
}
