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

}  // namespace
}  // namespace tensoripc::testing
