// Fuzz target: what a client library reads from a daemon (or anything on
// its socket) through proto/wire.h, and the typed error details of a
// status. The first byte picks the message: a SubscribeEvent, a
// PoolGranted, a PoolInfo, a DaemonInfo, or google.rpc.Status details.
// Whatever converts must convert back to the same thing.
#include <cstddef>
#include <cstdint>
#include <string>

#include "fuzz_support.h"
#include "pool/model.h"
#include "proto/wire.h"

namespace {

using namespace tensoripc;

using fuzz::check;

template <typename Message>
bool parse(Message* m, const uint8_t* data, size_t size) {
  return m->ParseFromArray(data, static_cast<int>(size));
}

void subscribe_event(const uint8_t* data, size_t size) {
  v1::SubscribeEvent p;
  if (!parse(&p, data, size)) return;
  StatusOr<StreamEvent> ev = wire::from_proto(p);
  if (!ev.ok()) return;
  v1::SubscribeEvent again;
  wire::to_proto(*ev, &again);
  StatusOr<StreamEvent> back = wire::from_proto(again);
  check(back.ok() && back->is_frame() == ev->is_frame() && back->dropped == ev->dropped);
  if (ev->is_frame()) check(back->frame.seq == ev->frame.seq && back->frame.slot == ev->frame.slot);
}

void granted(const uint8_t* data, size_t size) {
  v1::PoolGranted p;
  if (!parse(&p, data, size)) return;
  StatusOr<Grant> g = wire::from_proto(p);
  if (!g.ok()) return;
  v1::PoolGranted again;
  wire::to_proto(*g, &again);
  StatusOr<Grant> back = wire::from_proto(again);
  check(back.ok() && back->latest_seq == g->latest_seq &&
        back->descriptor_token == g->descriptor_token && same_identity(back->metadata, g->metadata));
}

void pool_info(const uint8_t* data, size_t size) {
  v1::PoolInfo p;
  if (!parse(&p, data, size)) return;
  StatusOr<PoolRecord> r = wire::from_proto(p);
  if (!r.ok()) return;
  v1::PoolInfo again;
  wire::to_proto(*r, &again);
  StatusOr<PoolRecord> back = wire::from_proto(again);
  check(back.ok() && back->stats.subscriber.size() == r->stats.subscriber.size() &&
        back->stats.latest_seq == r->stats.latest_seq);
}

void daemon_info(const uint8_t* data, size_t size) {
  v1::DaemonInfo p;
  if (!parse(&p, data, size)) return;
  const DaemonInfo d = wire::from_proto(p);
  v1::DaemonInfo again;
  wire::to_proto(d, &again);
  const DaemonInfo back = wire::from_proto(again);
  check(back.version == d.version && back.started_unix_ns == d.started_unix_ns);
}

void status_details(const uint8_t* data, size_t size) {
  const std::string details(reinterpret_cast<const char*>(data), size);
  const Status s = wire::from_grpc(grpc::Status(grpc::StatusCode::ALREADY_EXISTS, "taken", details));
  check(s.code() == StatusCode::kAlreadyExists && s.message() == "taken");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  switch (data[0] % 5) {
    case 0: subscribe_event(data + 1, size - 1); break;
    case 1: granted(data + 1, size - 1); break;
    case 2: pool_info(data + 1, size - 1); break;
    case 3: daemon_info(data + 1, size - 1); break;
    case 4: status_details(data + 1, size - 1); break;
  }
  return 0;
}
