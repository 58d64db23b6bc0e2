// Fuzz target: what a hostile client can send the daemon before anything is
// trusted. The first byte picks the input:
//   0: a ProducerMessage (the claim: metadata, CUDA handles) through
//      wire::from_proto, complete_metadata, check_cuda_memory and
//      compute_layout, as the registry takes a claim;
//   1: a SubscribeRequest: the pool name and keep_last checks;
//   2: a descriptor-channel request line ("TIPCFD1 GET <token>"), and the
//      answer parser a client runs on what comes back.
// A crash, a sanitizer report or a broken invariant (abort) is a finding.
#include <cstddef>
#include <cstdint>
#include <string>

#include "common/descriptor_channel.h"
#include "fuzz_support.h"
#include "pool/cuda_memory.h"
#include "pool/layout.h"
#include "pool/model.h"
#include "proto/wire.h"

namespace {

using namespace tensoripc;

using fuzz::check;

void claim(const uint8_t* data, size_t size) {
  v1::ProducerMessage msg;
  if (!msg.ParseFromArray(data, static_cast<int>(size)) || !msg.has_claim()) return;
  StatusOr<Claim> c = wire::from_proto(msg.claim());
  if (!c.ok()) return;
  PoolMetadata md = c->metadata;
  const PoolMetadata before = md;
  PoolLimits limits;  // the daemon's defaults
  if (Status s = complete_metadata(&md, limits); !s.ok()) {
    check(md.name == before.name && md.total_size == before.total_size);  // nothing changed
    return;
  }
  if (check_cuda_memory(md, c->cuda).ok() && c->cuda.present()) {
    // What consumers will map and index: every frame inside the allocation.
    const CudaMemory& m = c->cuda;
    check(m.slot_stride >= frame_bytes(md) && m.event_handles.size() == md.history_len);
    check(m.data_offset <= m.allocation_size &&
          m.slot_stride * md.history_len <= m.allocation_size - m.data_offset);
  }
  const Layout l = compute_layout(md);
  check(md.total_size <= limits.max_pool_bytes);
  check(l.frame_size == frame_bytes(md));
  check(l.slot_count == md.history_len);
  check(l.slot_stride >= l.frame_size);
  check(l.segment_size >= l.slots_offset);
  // What goes back to the client survives the wire.
  v1::PoolMetadata again;
  wire::to_proto(md, &again);
  StatusOr<PoolMetadata> back = wire::from_proto(again);
  check(back.ok() && same_identity(*back, md));
}

void subscribe(const uint8_t* data, size_t size) {
  v1::SubscribeRequest req;
  if (!req.ParseFromArray(data, static_cast<int>(size))) return;
  if (validate_pool_name(req.name()).ok()) check(!req.name().empty() && req.name().size() <= 128);
  StatusOr<uint32_t> keep = effective_keep_last(req.keep_last());
  if (keep.ok()) check(*keep >= 1);
}

void descriptor_line(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  StatusOr<DescriptorRequest> req = parse_descriptor_request(text);
  if (req.ok()) {
    // A request that parses formats back to one that parses the same.
    StatusOr<DescriptorRequest> again = parse_descriptor_request(format_descriptor_request(*req));
    check(again.ok() && again->verb == req->verb && again->argument == req->argument);
  }
  (void)parse_descriptor_answer(text);
  (void)is_descriptor_token(text);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  switch (data[0] % 3) {
    case 0: claim(data + 1, size - 1); break;
    case 1: subscribe(data + 1, size - 1); break;
    case 2: descriptor_line(data + 1, size - 1); break;
  }
  return 0;
}
