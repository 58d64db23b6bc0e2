// The one translation between tensoripc.v1 and the model: what goes out comes
// back the same, what this build cannot represent is refused with the reason,
// and the holder pid of a refused claim travels as a typed status detail.
#include "proto/wire.h"

#include <gtest/gtest.h>

#include <limits>

#include "google/rpc/status.pb.h"
#include "pool/model.h"

namespace tensoripc {
namespace {

PoolMetadata camera() {
  PoolMetadata md = PoolMetadata{};
  md.name = "camera";
  md.shape = {480, 640, 3};
  md.dtype = DType::kUInt8;
  md.history_len = 4;
  EXPECT_TRUE(complete_metadata(&md, PoolLimits{}).ok());
  md.shm_name = "tensoripc.camera";
  md.creator_pid = 77;
  md.payload_json = "{\"k\": 1}";
  return md;
}

TEST(Wire, MetadataRoundTripsEveryField) {
  const PoolMetadata md = camera();
  v1::PoolMetadata p;
  wire::to_proto(md, &p);
  EXPECT_EQ(p.dtype_str(), "uint8");
  auto back = wire::from_proto(p);
  ASSERT_TRUE(back.ok()) << back.status().message();
  EXPECT_TRUE(equal_but_creator_pid(*back, md));
  EXPECT_EQ(back->creator_pid, 77);
}

TEST(Wire, UnknownDtypeOrBadNameIsRefusedWithTheReason) {
  v1::PoolMetadata p;
  wire::to_proto(camera(), &p);
  p.set_dtype_str("float128");
  auto r = wire::from_proto(p);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(r.status().message().find("camera"), std::string::npos) << r.status().message();
  EXPECT_NE(r.status().message().find("float128"), std::string::npos) << r.status().message();
  EXPECT_NE(r.status().message().find("float32"), std::string::npos) << "names the choices";

  p.set_dtype_str("uint8");
  p.set_name("../etc");
  EXPECT_EQ(wire::from_proto(p).status().code(), StatusCode::kInvalidArgument);
}

TEST(Wire, LayoutGrantAndEventsRoundTrip) {
  Layout l = compute_layout(camera());
  l.shm_name = "tensoripc.camera";
  l.generation = 0xfeed;
  Grant g;
  g.metadata = camera();
  g.layout = l;
  g.resumed = true;
  g.latest_seq = 41;
  g.producer_pid = 4242;
  g.descriptor_token = std::string(32, 'a');
  v1::PoolGranted pg;
  wire::to_proto(g, &pg);
  EXPECT_EQ(pg.layout().memory_kind(), v1::MEMORY_KIND_HOST);
  auto back = wire::from_proto(pg);
  ASSERT_TRUE(back.ok());
  EXPECT_TRUE(equal_but_creator_pid(back->metadata, g.metadata));
  EXPECT_TRUE(same_geometry(back->layout, l));
  EXPECT_EQ(back->layout.shm_name, l.shm_name);
  EXPECT_EQ(back->layout.generation, l.generation);
  EXPECT_EQ(back->layout.data_size, l.data_size);
  EXPECT_TRUE(back->resumed);
  EXPECT_EQ(back->latest_seq, 41u);
  EXPECT_EQ(back->producer_pid, 4242);
  EXPECT_EQ(back->descriptor_token, g.descriptor_token);
  EXPECT_EQ(back->memory, nullptr) << "the daemon's mapping never travels";

  auto attached = std::make_shared<PoolEvent>();
  attached->kind = PoolEvent::Kind::kAttached;
  attached->metadata = camera();
  attached->layout = l;
  attached->producer_pid = 9;
  attached->latest_seq = 3;
  attached->descriptor_token = std::string(32, 'b');
  for (const StreamEvent& ev :
       {StreamEvent{FrameStamp{5, 1, 123}, nullptr, 2}, StreamEvent{{}, attached, 7}}) {
    v1::SubscribeEvent p;
    wire::to_proto(ev, &p);
    auto read = wire::from_proto(p);
    ASSERT_TRUE(read.ok());
    EXPECT_EQ(read->dropped, ev.dropped);
    EXPECT_EQ(read->is_frame(), ev.is_frame());
    if (ev.is_frame()) {
      EXPECT_EQ(read->frame.seq, 5u);
      EXPECT_EQ(read->frame.slot, 1u);
      EXPECT_EQ(read->frame.timestamp_ns, 123);
    } else {
      EXPECT_EQ(read->lifecycle->kind, PoolEvent::Kind::kAttached);
      EXPECT_TRUE(equal_but_creator_pid(read->lifecycle->metadata, attached->metadata));
      EXPECT_EQ(read->lifecycle->producer_pid, 9);
      EXPECT_EQ(read->lifecycle->latest_seq, 3u);
      EXPECT_EQ(read->lifecycle->descriptor_token, attached->descriptor_token);
    }
  }
}

TEST(Wire, ClaimRoundTripsItsHandBackToken) {
  Claim c{camera(), 77, std::string(32, 'c'), {}};
  v1::ClaimPool p;
  wire::to_proto(c, &p);
  EXPECT_EQ(p.handback_token(), c.handback_token);
  auto back = wire::from_proto(p);
  ASSERT_TRUE(back.ok()) << back.status().message();
  EXPECT_TRUE(equal_but_creator_pid(back->metadata, c.metadata));
  EXPECT_EQ(back->pid, 77);
  EXPECT_EQ(back->handback_token, c.handback_token);

  // A first claim (no restart) carries none.
  p.clear_handback_token();
  back = wire::from_proto(p);
  ASSERT_TRUE(back.ok());
  EXPECT_TRUE(back->handback_token.empty());
}

TEST(Wire, PoolInfoCarriesTheOwnerUid) {
  PoolRecord info;
  info.metadata = camera();
  info.layout = compute_layout(info.metadata);
  info.stats.owner_uid = 1000;
  info.stats.producer_pid = 12;
  info.stats.latest_seq = 9;
  SubscriberStats sub;
  sub.pid = 13;
  sub.keep_last = 2;
  info.stats.subscriber.push_back(sub);
  v1::PoolInfo p;
  wire::to_proto(info, &p);
  EXPECT_EQ(p.stats().owner_uid(), 1000u);
  EXPECT_EQ(p.stats().producer_pid(), 12);
  EXPECT_EQ(p.stats().latest_seq(), 9u);
  ASSERT_EQ(p.stats().subscriber_size(), 1);
  EXPECT_EQ(p.stats().subscriber(0).pid(), 13);
  EXPECT_EQ(p.metadata().name(), "camera");

  info.stats.owner_uid = 0;  // root's pools say so too
  v1::PoolInfo root;
  wire::to_proto(info, &root);
  EXPECT_EQ(root.stats().owner_uid(), 0u);
}

TEST(Wire, PoolInfoRoundTripsWithItsTimesAsTimestamps) {
  PoolRecord info;
  info.metadata = camera();
  info.layout = compute_layout(info.metadata);
  info.stats.created_unix_ns = 1796139265325258044;  // 2026-12-01T15:34:25.325258044Z
  info.stats.last_publish_unix_ns = 1796139266000000001;
  info.stats.rate_hz = 29.5;
  info.stats.dropped = 3;
  SubscriberStats sub;
  sub.pid = 13;
  sub.delivered = 7;
  sub.lifecycle_only = true;
  info.stats.subscriber.push_back(sub);
  v1::PoolInfo p;
  wire::to_proto(info, &p);
  EXPECT_EQ(p.stats().created().seconds(), 1796139265);
  EXPECT_EQ(p.stats().created().nanos(), 325258044);
  EXPECT_EQ(p.stats().last_publish().nanos(), 1);
  EXPECT_EQ(p.stats().created_unix_ns(), info.stats.created_unix_ns);  // kept beside

  auto back = wire::from_proto(p);
  ASSERT_TRUE(back.ok()) << back.status().message();
  EXPECT_EQ(back->metadata.name, info.metadata.name);
  EXPECT_EQ(back->metadata.shape, info.metadata.shape);
  EXPECT_EQ(back->layout.slot_count, info.layout.slot_count);
  EXPECT_EQ(back->stats.created_unix_ns, info.stats.created_unix_ns);
  EXPECT_EQ(back->stats.last_publish_unix_ns, info.stats.last_publish_unix_ns);
  EXPECT_EQ(back->stats.rate_hz, 29.5);
  EXPECT_EQ(back->stats.dropped, 3u);
  ASSERT_EQ(back->stats.subscriber.size(), 1u);
  EXPECT_EQ(back->stats.subscriber[0].delivered, 7u);
  EXPECT_TRUE(back->stats.subscriber[0].lifecycle_only);

  // Before the first frame there is no last_publish at all (not 1970).
  info.stats.last_publish_unix_ns = 0;
  v1::PoolInfo fresh;
  wire::to_proto(info, &fresh);
  EXPECT_FALSE(fresh.stats().has_last_publish());
}

TEST(Wire, DaemonInfoRoundTrips) {
  DaemonInfo d;
  d.version = "0.1.0";
  d.pid = 42;
  d.started_unix_ns = -1;  // before 1970: nanos stay in [0, 1e9)
  d.retention = "remove";
  d.max_total_bytes = uint64_t{1} << 40;
  d.caller_uid = 1000;
  d.caller_is_admin = true;
  v1::DaemonInfo p;
  wire::to_proto(d, &p);
  EXPECT_EQ(p.started().seconds(), -1);
  EXPECT_EQ(p.started().nanos(), 999999999);
  const DaemonInfo back = wire::from_proto(p);
  EXPECT_EQ(back.version, "0.1.0");
  EXPECT_EQ(back.pid, 42);
  EXPECT_EQ(back.started_unix_ns, -1);
  EXPECT_EQ(back.retention, "remove");
  EXPECT_EQ(back.max_total_bytes, uint64_t{1} << 40);
  EXPECT_EQ(back.caller_uid, 1000u);
  EXPECT_TRUE(back.caller_is_admin);
}

TEST(Wire, TimestampsFromTheWireNeverOverflow) {
  // Found by fuzz_wire: seconds past year 2262 overflowed int64 nanoseconds.
  v1::DaemonInfo p;
  p.mutable_started()->set_seconds(10386073870);
  EXPECT_EQ(wire::from_proto(p).started_unix_ns, std::numeric_limits<int64_t>::max());
  p.mutable_started()->set_seconds(-10386073870);
  EXPECT_EQ(wire::from_proto(p).started_unix_ns, std::numeric_limits<int64_t>::min());
  p.mutable_started()->set_seconds(5);
  p.mutable_started()->set_nanos(-3);  // not a valid Timestamp: no nanos
  EXPECT_EQ(wire::from_proto(p).started_unix_ns, 5000000000);
}

TEST(Wire, HolderPidTravelsAsATypedDetail) {
  Status held = already_exists("topic 'camera' is already published by pid 4242");
  held.set_holder_pid(4242);
  const grpc::Status g = wire::to_grpc(held);
  EXPECT_EQ(g.error_code(), grpc::StatusCode::ALREADY_EXISTS);
  EXPECT_EQ(g.error_message(), held.message()) << "the text for people stays";
  google::rpc::Status rich;
  ASSERT_TRUE(rich.ParseFromString(g.error_details()));
  ASSERT_EQ(rich.details_size(), 1);
  v1::TopicHeld detail;
  ASSERT_TRUE(rich.details(0).UnpackTo(&detail));
  EXPECT_EQ(detail.holder_pid(), 4242);

  const Status back = wire::from_grpc(g);
  EXPECT_EQ(back.code(), StatusCode::kAlreadyExists);
  EXPECT_EQ(back.holder_pid(), 4242);

  // The message is for people: a pid in the text alone is not read.
  const Status text_only = wire::from_grpc(
      grpc::Status(grpc::StatusCode::ALREADY_EXISTS, "topic 'x' is already published by pid 1"));
  EXPECT_EQ(text_only.holder_pid(), 0);
  // Details that are not a google.rpc.Status are ignored, not fatal.
  EXPECT_EQ(
      wire::from_grpc(grpc::Status(grpc::StatusCode::ALREADY_EXISTS, "m", "\xff\x01")).holder_pid(),
      0);
  EXPECT_TRUE(wire::to_grpc(Status()).ok());
}

}  // namespace
}  // namespace tensoripc
