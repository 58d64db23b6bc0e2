// The daemon's bounds on what one client can make it hold, on the real
// tensor-ipcd: how many streams may be open (in all and per user), and how
// long a ProducerSession may go without its ClaimPool.
#include <gtest/gtest.h>
#include <unistd.h>

#include <memory>
#include <string>
#include <vector>

#include "tests/daemon/broker_client.h"
#include "tests/support/broker_stub.h"
#include "tests/support/process.h"

namespace tensoripc::testing {
namespace {

// A stream costs the daemon memory: how many may be open is bounded, for
// everyone together and per user, and a refused one is RESOURCE_EXHAUSTED
// naming the limit. Streams that end give their place back.
TEST(DaemonLimits, StreamsAreBoundedInAllAndPerUser) {
  DaemonProcess daemon({"--max-streams", "5", "--max-streams-per-uid", "3"});
  auto stub = broker_stub(daemon);
  std::vector<std::unique_ptr<TestSubscriber>> open;
  for (int i = 0; i < 3; ++i) {
    open.push_back(std::make_unique<TestSubscriber>(*stub, "cam"));
    ASSERT_EQ(kind(*open.back()->next()), "waiting");
  }
  {
    TestSubscriber fourth(*stub, "cam");
    auto st = fourth.wait_end();
    ASSERT_TRUE(st);
    EXPECT_EQ(st->error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
    EXPECT_NE(st->error_message().find("--max-streams-per-uid"), std::string::npos)
        << st->error_message();
    TestProducer producer(*stub);
    const grpc::Status refused = producer.claim(pool_metadata("cam"));
    EXPECT_EQ(refused.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
  }
  // One ends: its place is free again.
  open.pop_back();
  ASSERT_TRUE(eventually([&] {
    TestProducer producer(*stub);
    return producer.claim(pool_metadata("cam")).ok();
  }));
  v1::PoolInfo info;
  EXPECT_TRUE(get_pool(*stub, "cam", &info).ok()) << "unary calls are not streams";

  // The limit for everyone together, with room per user.
  DaemonProcess small({"--max-streams", "2", "--max-streams-per-uid", "10"});
  auto small_stub = broker_stub(small);
  TestSubscriber a(*small_stub, "x"), b(*small_stub, "y");
  ASSERT_EQ(kind(*a.next()), "waiting");
  ASSERT_EQ(kind(*b.next()), "waiting");
  TestSubscriber third(*small_stub, "z");
  auto st = third.wait_end();
  ASSERT_TRUE(st);
  EXPECT_EQ(st->error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
  EXPECT_NE(st->error_message().find("(--max-streams)"), std::string::npos) << st->error_message();
}

// A ProducerSession that never sends its ClaimPool is ended after the claim
// timeout; one that claimed in time is not.
TEST(DaemonLimits, ASessionWithoutItsClaimIsEnded) {
  DaemonProcess daemon({"--claim-timeout-ms", "300"});
  auto stub = broker_stub(daemon);
  TestProducer claimed(*stub);
  ASSERT_TRUE(claimed.claim(pool_metadata("cam")).ok());
  TestProducer silent(*stub);
  const grpc::Status st = silent.wait_end();  // returns once the daemon ends it
  EXPECT_EQ(st.error_code(), grpc::StatusCode::DEADLINE_EXCEEDED);
  EXPECT_NE(st.error_message().find("--claim-timeout"), std::string::npos) << st.error_message();
  v1::PoolInfo info;
  ASSERT_TRUE(get_pool(*stub, "cam", &info).ok());
  EXPECT_EQ(info.stats().producer_pid(), ::getpid()) << "the claimed session holds its lease";
  EXPECT_TRUE(claimed.close().ok());
}

// The memory of all pools together is bounded: a claim that would go past
// --max-total-bytes while every pool has its producer is RESOURCE_EXHAUSTED
// naming it, and nothing is created; a kept pool (its producer left) gives
// way to the claim, and a deleted pool gives its room back.
TEST(DaemonLimits, AllPoolsTogetherAreBounded) {
  DaemonProcess daemon({"--max-total-bytes", "3M", "--retention", "keep"});
  auto stub = broker_stub(daemon);
  // 2 frames of 640 KiB: 1.25 MiB and a few pages each.
  const auto md = [](const std::string& name) {
    return pool_metadata(name, {640, 1024}, "uint8", 2);
  };
  TestProducer a(*stub), b(*stub);
  ASSERT_TRUE(a.claim(md("a")).ok());
  ASSERT_TRUE(b.claim(md("b")).ok());
  TestProducer c(*stub);
  const grpc::Status refused = c.claim(md("c"));
  EXPECT_EQ(refused.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
  EXPECT_NE(refused.error_message().find("--max-total-bytes"), std::string::npos)
      << refused.error_message();
  EXPECT_EQ(daemon.segments().size(), 2u) << "a refused claim created nothing";
  // A small pool still fits beside them.
  TestProducer small(*stub);
  EXPECT_TRUE(small.claim(pool_metadata("tiny", {1024}, "uint8", 2)).ok());
  // a's producer leaves: its pool is kept, and gives way to the next claim.
  EXPECT_TRUE(a.close().ok());
  TestProducer again(*stub);
  EXPECT_TRUE(again.claim(md("c")).ok()) << "a kept pool's room goes to a new claim";
  v1::PoolInfo info;
  EXPECT_EQ(get_pool(*stub, "a", &info).error_code(), grpc::StatusCode::NOT_FOUND);
  // A deleted pool's room is free again.
  TestProducer d(*stub);
  EXPECT_EQ(d.claim(md("d")).error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
  grpc::ClientContext ctx;
  v1::DeletePoolRequest req;
  req.set_name("b");
  req.set_force(true);
  v1::DeletePoolResponse resp;
  ASSERT_TRUE(stub->DeletePool(&ctx, req, &resp).ok());
  TestProducer e(*stub);
  EXPECT_TRUE(e.claim(md("d")).ok()) << "a deleted pool's room is free again";
}

}  // namespace
}  // namespace tensoripc::testing
