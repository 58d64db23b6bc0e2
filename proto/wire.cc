#include "proto/wire.h"

#include <google/protobuf/any.pb.h>

#include <limits>

#include "google/rpc/status.pb.h"
#include "pool/model.h"

namespace tensoripc::wire {
namespace {

void set_time(int64_t unix_ns, google::protobuf::Timestamp* out) {
  int64_t seconds = unix_ns / 1000000000;
  int64_t nanos = unix_ns % 1000000000;
  if (nanos < 0) {
    nanos += 1000000000;
    --seconds;
  }
  out->set_seconds(seconds);
  out->set_nanos(static_cast<int32_t>(nanos));
}

// A Timestamp from the wire, which anyone may have written: nanos outside
// [0, 1e9) count as 0, and instants past what int64 nanoseconds hold (year
// 2262) saturate instead of overflowing.
int64_t time_of(const google::protobuf::Timestamp& t) {
  constexpr int64_t kMaxSeconds = std::numeric_limits<int64_t>::max() / 1000000000 - 1;
  const int64_t nanos = t.nanos() >= 0 && t.nanos() < 1000000000 ? t.nanos() : 0;
  if (t.seconds() > kMaxSeconds) return std::numeric_limits<int64_t>::max();
  if (t.seconds() < -kMaxSeconds) return std::numeric_limits<int64_t>::min();
  return t.seconds() * 1000000000 + nanos;
}

void lifecycle_to_proto(const PoolEvent& ev, v1::SubscribeEvent* out) {
  switch (ev.kind) {
    case PoolEvent::Kind::kAttached: {
      v1::PoolAttached* a = out->mutable_attached();
      to_proto(ev.metadata, a->mutable_metadata());
      to_proto(ev.layout, a->mutable_layout());
      a->set_producer_pid(ev.producer_pid);
      a->set_latest_seq(ev.latest_seq);
      a->set_descriptor_token(ev.descriptor_token);
      if (ev.cuda.present()) to_proto(ev.cuda, a->mutable_cuda());
      break;
    }
    case PoolEvent::Kind::kWaiting:
      out->mutable_waiting();
      break;
    case PoolEvent::Kind::kProducerGone:
      out->mutable_producer_gone()->set_pid(ev.producer_pid);
      out->mutable_producer_gone()->set_pool_kept(ev.pool_kept);
      break;
    case PoolEvent::Kind::kRemoved:
      out->mutable_removed()->set_reason(ev.reason);
      break;
  }
}

}  // namespace

void to_proto(const PoolMetadata& md, v1::PoolMetadata* p) {
  p->set_name(md.name);
  p->mutable_shape()->Assign(md.shape.begin(), md.shape.end());
  p->set_dtype_str(std::string(md.dtype_str()));
  p->set_backend_type(md.backend_type);
  p->set_history_len(md.history_len);
  p->set_device(md.device);
  p->set_element_size(md.element_size);
  p->set_total_size(md.total_size);
  p->set_shm_name(md.shm_name);
  p->set_creator_pid(md.creator_pid);
  p->set_payload_json(md.payload_json);
}

StatusOr<PoolMetadata> from_proto(const v1::PoolMetadata& p) {
  if (Status s = validate_pool_name(p.name()); !s.ok()) return s;
  const auto dtype = parse_dtype(p.dtype_str());
  if (!dtype) {
    return invalid_argument("pool '" + p.name() + "': unknown dtype '" + printable(p.dtype_str()) +
                            "'; expected one of " + dtype_names_joined());
  }
  PoolMetadata md;
  md.name = p.name();
  md.shape.assign(p.shape().begin(), p.shape().end());
  md.dtype = *dtype;
  md.backend_type = p.backend_type();
  md.history_len = p.history_len();
  md.device = p.device();
  md.element_size = p.element_size();
  md.total_size = p.total_size();
  md.shm_name = p.shm_name();
  md.creator_pid = p.creator_pid();
  md.payload_json = p.payload_json();
  return md;
}

void to_proto(const Layout& l, v1::PoolLayout* out) {
  out->set_shm_name(l.shm_name);
  out->set_generation(l.generation);
  out->set_layout_version(kLayoutVersion);
  out->set_frame_size(l.frame_size);
  out->set_slot_stride(l.slot_stride);
  out->set_slot_count(l.slot_count);
  out->set_slots_offset(l.slots_offset);
  out->set_data_offset(l.data_offset);
  out->set_segment_size(l.segment_size);
  out->set_memory_kind(l.memory_kind == MemoryKind::kCuda ? v1::MEMORY_KIND_CUDA
                                                          : v1::MEMORY_KIND_HOST);
}

Layout from_proto(const v1::PoolLayout& p) {
  Layout l;
  l.shm_name = p.shm_name();
  l.generation = p.generation();
  l.frame_size = p.frame_size();
  l.slot_stride = p.slot_stride();
  l.slot_count = p.slot_count();
  l.slots_offset = p.slots_offset();
  l.data_offset = p.data_offset();
  l.data_size = p.slot_stride() * p.slot_count();
  l.segment_size = p.segment_size();
  l.memory_kind = p.memory_kind() == v1::MEMORY_KIND_CUDA ? MemoryKind::kCuda : MemoryKind::kHost;
  return l;
}

void to_proto(const Claim& claim, v1::ClaimPool* out) {
  to_proto(claim.metadata, out->mutable_metadata());
  out->set_pid(claim.pid);
  out->set_handback_token(claim.handback_token);
  if (claim.cuda.present()) to_proto(claim.cuda, out->mutable_cuda());
}

StatusOr<Claim> from_proto(const v1::ClaimPool& claim) {
  auto md = from_proto(claim.metadata());
  if (!md.ok()) return md.status();
  CudaMemory cuda;
  if (claim.has_cuda()) {
    cuda = from_proto(claim.cuda());
    if (!cuda.present()) {
      return invalid_argument("pool '" + md->name + "': cuda.sharing is " +
                              v1::CudaMemory::Sharing_Name(claim.cuda().sharing()) +
                              "; say how the device memory is shared (CUDA_SHARING_LEGACY_IPC)");
    }
  }
  return Claim{std::move(*md), claim.pid(), claim.handback_token(), std::move(cuda)};
}

void to_proto(const CudaMemory& c, v1::CudaMemory* out) {
  out->set_sharing(c.sharing == CudaMemory::Sharing::kLegacyIpc ? v1::CudaMemory::CUDA_SHARING_LEGACY_IPC
                   : c.sharing == CudaMemory::Sharing::kVmmFd ? v1::CudaMemory::CUDA_SHARING_VMM_FD
                                                              : v1::CudaMemory::CUDA_SHARING_UNSPECIFIED);
  out->set_memory_handle(c.memory_handle);
  out->set_allocation_size(c.allocation_size);
  out->set_data_offset(c.data_offset);
  out->set_slot_stride(c.slot_stride);
  out->mutable_event_handles()->Assign(c.event_handles.begin(), c.event_handles.end());
  out->set_device_ordinal(c.device_ordinal);
  out->set_device_uuid(c.device_uuid);
}

CudaMemory from_proto(const v1::CudaMemory& p) {
  CudaMemory c;
  switch (p.sharing()) {
    case v1::CudaMemory::CUDA_SHARING_LEGACY_IPC:
      c.sharing = CudaMemory::Sharing::kLegacyIpc;
      break;
    case v1::CudaMemory::CUDA_SHARING_VMM_FD:
      c.sharing = CudaMemory::Sharing::kVmmFd;
      break;
    default:  // unspecified, or a value this build does not know: not CUDA memory it can use
      c.sharing = CudaMemory::Sharing::kNone;
      break;
  }
  c.memory_handle = p.memory_handle();
  c.allocation_size = p.allocation_size();
  c.data_offset = p.data_offset();
  c.slot_stride = p.slot_stride();
  c.event_handles.assign(p.event_handles().begin(), p.event_handles().end());
  c.device_ordinal = p.device_ordinal();
  c.device_uuid = p.device_uuid();
  return c;
}

void to_proto(const Grant& grant, v1::PoolGranted* out) {
  to_proto(grant.metadata, out->mutable_metadata());
  to_proto(grant.layout, out->mutable_layout());
  out->set_resumed(grant.resumed);
  out->set_latest_seq(grant.latest_seq);
  out->set_descriptor_token(grant.descriptor_token);
  out->set_producer_pid(grant.producer_pid);
}

StatusOr<Grant> from_proto(const v1::PoolGranted& p) {
  auto md = from_proto(p.metadata());
  if (!md.ok()) return md.status();
  Grant g;
  g.metadata = std::move(*md);
  g.layout = from_proto(p.layout());
  g.resumed = p.resumed();
  g.latest_seq = p.latest_seq();
  g.descriptor_token = p.descriptor_token();
  g.producer_pid = p.producer_pid();
  return g;
}

void to_proto(const StreamEvent& event, v1::SubscribeEvent* out) {
  out->Clear();
  if (event.is_frame()) {
    v1::FrameEvent* f = out->mutable_frame();
    f->set_seq(event.frame.seq);
    f->set_slot(static_cast<uint32_t>(event.frame.slot));
    f->set_timestamp_ns(event.frame.timestamp_ns);
  } else {
    lifecycle_to_proto(*event.lifecycle, out);
  }
  out->set_dropped(event.dropped);
}

StatusOr<StreamEvent> from_proto(const v1::SubscribeEvent& p) {
  StreamEvent ev;
  ev.dropped = p.dropped();
  if (p.has_frame()) {
    ev.frame = FrameStamp{p.frame().seq(), p.frame().slot(), p.frame().timestamp_ns()};
    return ev;
  }
  auto life = std::make_shared<PoolEvent>();
  switch (p.event_case()) {
    case v1::SubscribeEvent::kAttached: {
      auto md = from_proto(p.attached().metadata());
      if (!md.ok()) return md.status();
      life->kind = PoolEvent::Kind::kAttached;
      life->metadata = std::move(*md);
      life->layout = from_proto(p.attached().layout());
      life->producer_pid = p.attached().producer_pid();
      life->latest_seq = p.attached().latest_seq();
      life->descriptor_token = p.attached().descriptor_token();
      if (p.attached().has_cuda()) life->cuda = from_proto(p.attached().cuda());
      break;
    }
    case v1::SubscribeEvent::kWaiting:
      life->kind = PoolEvent::Kind::kWaiting;
      break;
    case v1::SubscribeEvent::kProducerGone:
      life->kind = PoolEvent::Kind::kProducerGone;
      life->producer_pid = p.producer_gone().pid();
      life->pool_kept = p.producer_gone().pool_kept();
      break;
    case v1::SubscribeEvent::kRemoved:
      life->kind = PoolEvent::Kind::kRemoved;
      life->reason = p.removed().reason();
      break;
    default:
      return invalid_argument("a Subscribe event of no kind this client knows");
  }
  ev.lifecycle = std::move(life);
  return ev;
}

void to_proto(const PoolRecord& info, v1::PoolInfo* out) {
  to_proto(info.metadata, out->mutable_metadata());
  to_proto(info.layout, out->mutable_layout());
  if (info.cuda.present()) to_proto(info.cuda, out->mutable_cuda());
  const PoolStats& s = info.stats;
  v1::PoolStats* st = out->mutable_stats();
  st->set_frames_published(s.frames_published);
  st->set_latest_seq(s.latest_seq);
  st->set_rate_hz(s.rate_hz);
  st->set_subscribers(s.subscribers);
  st->set_dropped(s.dropped);
  st->set_producer_pid(s.producer_pid);
  st->set_created_unix_ns(s.created_unix_ns);
  st->set_last_publish_unix_ns(s.last_publish_unix_ns);
  st->set_owner_uid(s.owner_uid);
  set_time(s.created_unix_ns, st->mutable_created());
  if (s.last_publish_unix_ns != 0) set_time(s.last_publish_unix_ns, st->mutable_last_publish());
  for (const SubscriberStats& sub : s.subscriber) {
    v1::SubscriberStats* p = st->add_subscriber();
    p->set_pid(sub.pid);
    p->set_keep_last(sub.keep_last);
    p->set_delivered(sub.delivered);
    p->set_dropped(sub.dropped);
    p->set_queued(sub.queued);
    p->set_lifecycle_only(sub.lifecycle_only);
  }
}

StatusOr<PoolRecord> from_proto(const v1::PoolInfo& p) {
  PoolRecord info;
  auto md = from_proto(p.metadata());
  if (!md.ok()) return md.status();
  info.metadata = std::move(*md);
  info.layout = from_proto(p.layout());
  if (p.has_cuda()) info.cuda = from_proto(p.cuda());
  const v1::PoolStats& st = p.stats();
  PoolStats& s = info.stats;
  s.frames_published = st.frames_published();
  s.latest_seq = st.latest_seq();
  s.rate_hz = st.rate_hz();
  s.subscribers = st.subscribers();
  s.dropped = st.dropped();
  s.producer_pid = st.producer_pid();
  s.created_unix_ns = st.created_unix_ns();
  s.last_publish_unix_ns = st.last_publish_unix_ns();
  s.owner_uid = st.owner_uid();
  for (const v1::SubscriberStats& q : st.subscriber()) {
    SubscriberStats sub;
    sub.pid = q.pid();
    sub.keep_last = q.keep_last();
    sub.delivered = q.delivered();
    sub.dropped = q.dropped();
    sub.queued = q.queued();
    sub.lifecycle_only = q.lifecycle_only();
    s.subscriber.push_back(sub);
  }
  return info;
}

void to_proto(const DaemonInfo& d, v1::DaemonInfo* out) {
  out->set_version(d.version);
  out->set_pid(d.pid);
  out->set_uid(d.uid);
  set_time(d.started_unix_ns, out->mutable_started());
  out->set_socket_path(d.socket_path);
  out->set_retention(d.retention);
  out->set_max_pools(d.max_pools);
  out->set_max_pool_bytes(d.max_pool_bytes);
  out->set_max_total_bytes(d.max_total_bytes);
  out->set_pools(d.pools);
  out->set_pool_bytes(d.pool_bytes);
  out->set_streams(d.streams);
  out->set_max_streams(d.max_streams);
  out->set_max_streams_per_uid(d.max_streams_per_uid);
  out->set_caller_pid(d.caller_pid);
  out->set_caller_uid(d.caller_uid);
  out->set_caller_is_admin(d.caller_is_admin);
}

DaemonInfo from_proto(const v1::DaemonInfo& p) {
  DaemonInfo d;
  d.version = p.version();
  d.pid = p.pid();
  d.uid = p.uid();
  d.started_unix_ns = time_of(p.started());
  d.socket_path = p.socket_path();
  d.retention = p.retention();
  d.max_pools = p.max_pools();
  d.max_pool_bytes = p.max_pool_bytes();
  d.max_total_bytes = p.max_total_bytes();
  d.pools = p.pools();
  d.pool_bytes = p.pool_bytes();
  d.streams = p.streams();
  d.max_streams = p.max_streams();
  d.max_streams_per_uid = p.max_streams_per_uid();
  d.caller_pid = p.caller_pid();
  d.caller_uid = p.caller_uid();
  d.caller_is_admin = p.caller_is_admin();
  return d;
}

grpc::Status to_grpc(const Status& s) {
  if (s.ok()) return grpc::Status::OK;
  const auto code = static_cast<grpc::StatusCode>(s.code());
  if (s.holder_pid() == 0) return grpc::Status(code, s.message());
  google::rpc::Status rich;
  rich.set_code(static_cast<int>(code));
  rich.set_message(s.message());
  v1::TopicHeld held;
  held.set_holder_pid(s.holder_pid());
  rich.add_details()->PackFrom(held);
  return grpc::Status(code, s.message(), rich.SerializeAsString());
}

Status from_grpc(const grpc::Status& g) {
  Status s(static_cast<StatusCode>(g.error_code()), g.error_message());
  if (g.error_details().empty()) return s;
  google::rpc::Status rich;
  if (!rich.ParseFromString(g.error_details())) return s;
  for (const google::protobuf::Any& detail : rich.details()) {
    v1::TopicHeld held;
    if (detail.Is<v1::TopicHeld>() && detail.UnpackTo(&held)) s.set_holder_pid(held.holder_pid());
  }
  return s;
}

}  // namespace tensoripc::wire
