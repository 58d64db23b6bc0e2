// The daemon's bounds on what one client can make it hold, on the real
// tensor-ipcd: how many streams may be open (in all and per user), and how
// long a ProducerSession may go without its ClaimPool.
#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <csignal>
#include <iostream>
#include <memory>
#include <string>
#include <thread>
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

// A subscriber that stops reading (its process frozen: its socket and gRPC's
// windows fill, so the daemon's write to it waits) is ended once an event has
// waited --stall-timeout-ms for it, and its stream is counted no more; a
// subscriber of the same pool that reads keeps its stream and every frame.
TEST(DaemonLimits, ASubscriberThatStopsReadingIsEnded) {
  DaemonProcess daemon({"--stall-timeout-ms", "500"});
  auto stub = broker_stub(daemon);
  TestProducer producer(*stub);
  ASSERT_TRUE(producer.claim(pool_metadata("cam")).ok());
  TestSubscriber reader(*stub, "cam", /*keep_last=*/100);
  ChildProcess frozen({TIPC_BROKER_HELPER, daemon.socket_path(), "cam", "subscribe"});
  ASSERT_TRUE(frozen.wait_for_line("SUBSCRIBED", std::chrono::seconds(10)));
  frozen.signal(SIGSTOP);
  auto frozen_subscribed = [&] {
    v1::PoolInfo info;
    EXPECT_TRUE(get_pool(*stub, "cam", &info).ok());
    for (const auto& sub : info.stats().subscriber()) {
      if (sub.pid() == frozen.pid()) return true;
    }
    return false;
  };
  ASSERT_TRUE(frozen_subscribed());

  // Frames until the daemon gives up on it: a write waits only once the
  // frozen process's socket is full, after some thousands of events.
  uint64_t seq = 0;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (frozen_subscribed() && std::chrono::steady_clock::now() < deadline) {
    for (int i = 0; i < 200; ++i) ASSERT_TRUE(producer.publish(++seq));
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  EXPECT_FALSE(frozen_subscribed()) << "still subscribed after " << seq << " frames";
  std::cout << "the frozen subscriber was ended after " << seq << " frames\n";

  // The reader's stream goes on: the next frame reaches it.
  ASSERT_TRUE(producer.publish(++seq));
  bool got_it = false;
  while (auto event = reader.next(std::chrono::seconds(5))) {
    if (event->has_frame() && event->frame().seq() == seq) {
      got_it = true;
      break;
    }
  }
  EXPECT_TRUE(got_it) << "the reading subscriber lost its stream or frame " << seq;
  frozen.signal(SIGKILL);
}

}  // namespace
}  // namespace tensoripc::testing
