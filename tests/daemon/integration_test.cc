// The real tensor-ipcd, driven over gRPC: leases (with a real producer
// process killed by SIGKILL), event order, drops, queries, bad input and
// garbage, health and reflection.
#include <grpcpp/generic/generic_stub.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/un.h>

#include <chrono>
#include <cstring>
#include <future>
#include <iostream>
#include <thread>

#include "common/shm.h"
#include "pool/layout.h"
#include "tests/daemon/broker_client.h"
#include "tests/support/gpu_claim.h"
#include "tests/support/broker_stub.h"
#include "tests/support/process.h"

namespace tensoripc::testing {
namespace {

using std::chrono::milliseconds;
using Clock = std::chrono::steady_clock;

grpc::Status delete_pool(v1::Broker::Stub& stub, const std::string& name, bool force) {
  grpc::ClientContext ctx;
  v1::DeletePoolRequest req;
  req.set_name(name);
  req.set_force(force);
  v1::DeletePoolResponse resp;
  return stub.DeletePool(&ctx, req, &resp);
}

std::vector<v1::PoolInfo> list_pools(v1::Broker::Stub& stub) {
  grpc::ClientContext ctx;
  v1::ListPoolsResponse resp;
  EXPECT_TRUE(stub.ListPools(&ctx, v1::ListPoolsRequest(), &resp).ok());
  return {resp.pools().begin(), resp.pools().end()};
}

std::vector<std::string> helper_argv(DaemonProcess& d, const std::string& pool, int notices = 0) {
  return {TIPC_BROKER_HELPER, d.socket_path(), pool, std::to_string(notices)};
}

class DaemonIntegration : public ::testing::Test {
 protected:
  DaemonProcess daemon_;
  std::unique_ptr<v1::Broker::Stub> stub_ = broker_stub(daemon_);
};

TEST_F(DaemonIntegration, OneProducerPerTopicAndTheLeaseDiesWithTheProcess) {
  ChildProcess helper(helper_argv(daemon_, "cam", 3));
  ASSERT_TRUE(helper.wait_for_line("CLAIMED", std::chrono::seconds(10)));
  ASSERT_TRUE(helper.wait_for_line("PUBLISHED 3", std::chrono::seconds(10)));
  ASSERT_TRUE(eventually([&] {
    v1::PoolInfo info;
    return get_pool(*stub_, "cam", &info).ok() && info.stats().latest_seq() == 3;
  }));

  // A second claim is refused, naming the holder.
  {
    TestProducer second(*stub_);
    grpc::Status st = second.claim(pool_metadata("cam"));
    EXPECT_EQ(st.error_code(), grpc::StatusCode::ALREADY_EXISTS);
    EXPECT_EQ(st.error_message(),
              "topic 'cam' is already published by pid " + std::to_string(helper.pid()));
  }
  v1::PoolInfo info;
  ASSERT_TRUE(get_pool(*stub_, "cam", &info).ok());
  EXPECT_EQ(info.stats().producer_pid(), helper.pid());

  // SIGKILL: the kernel closes the socket, the daemon frees the lease at once.
  helper.signal(SIGKILL);
  ASSERT_TRUE(helper.wait(std::chrono::seconds(5)));
  const auto reaped = Clock::now();
  ASSERT_TRUE(eventually(
      [&] { return get_pool(*stub_, "cam", &info).ok() && info.stats().producer_pid() == 0; },
      milliseconds(2000)));
  const auto freed_ms = std::chrono::duration<double, std::milli>(Clock::now() - reaped).count();
  std::cout << "lease freed " << freed_ms << " ms after waitpid returned\n";
  RecordProperty("lease_freed_ms", std::to_string(freed_ms));
  EXPECT_LT(freed_ms, 100.0);

  TestProducer next(*stub_);
  ASSERT_TRUE(next.claim(pool_metadata("cam")).ok());
  EXPECT_TRUE(next.granted().resumed());
  EXPECT_EQ(next.granted().latest_seq(), 3u);
}

TEST_F(DaemonIntegration, ALeaseIsFreedForEveryWayAStreamEnds) {
  auto freed = [&] {
    v1::PoolInfo info;
    return eventually(
        [&] { return get_pool(*stub_, "cam", &info).ok() && info.stats().producer_pid() == 0; });
  };
  {
    TestProducer p(*stub_);
    ASSERT_TRUE(p.claim(pool_metadata("cam")).ok());
    EXPECT_TRUE(p.close().ok());  // half-close
  }
  EXPECT_TRUE(freed());
  {
    TestProducer p(*stub_);
    ASSERT_TRUE(p.claim(pool_metadata("cam")).ok());
    p.cancel();
    EXPECT_EQ(p.wait_end().error_code(), grpc::StatusCode::CANCELLED);
  }
  EXPECT_TRUE(freed());
  {
    TestProducer p(*stub_);
    ASSERT_TRUE(p.claim(pool_metadata("cam")).ok());
  }  // destroyed mid-stream
  EXPECT_TRUE(freed());
}

TEST_F(DaemonIntegration, SubscriberSeesFrameAndLifecycleEventsInOrder) {
  TestSubscriber sub(*stub_, "cam");
  auto ev = sub.next();
  ASSERT_TRUE(ev);
  EXPECT_EQ(kind(*ev), "waiting");

  TestProducer first(*stub_);
  ASSERT_TRUE(first.claim(pool_metadata("cam", {2, 8}, "float32", 3)).ok());
  ev = sub.next();
  ASSERT_TRUE(ev);
  ASSERT_EQ(kind(*ev), "attached");
  EXPECT_EQ(ev->attached().producer_pid(), ::getpid());
  EXPECT_EQ(ev->attached().metadata().shm_name(), first.granted().metadata().shm_name());
  EXPECT_EQ(ev->attached().layout().generation(), first.granted().layout().generation());
  EXPECT_EQ(ev->attached().metadata().total_size(), 2u * 8 * 4 * 3);

  // One at a time: the daemon reads frames from the ring (history_len 3),
  // and five written back to back could lap it (those would be counted in
  // `dropped`, not announced).
  for (uint64_t s = 1; s <= 5; ++s) {
    ASSERT_TRUE(first.publish(s));
    ev = sub.next();
    ASSERT_TRUE(ev);
    ASSERT_EQ(kind(*ev), "frame");
    EXPECT_EQ(ev->frame().seq(), s);
    EXPECT_EQ(ev->frame().slot(), s % 3);
    EXPECT_GT(ev->frame().timestamp_ns(), 0);
    EXPECT_EQ(ev->dropped(), 0u);
  }

  ASSERT_TRUE(first.close().ok());
  ev = sub.next();
  ASSERT_TRUE(ev);
  ASSERT_EQ(kind(*ev), "gone");
  EXPECT_EQ(ev->producer_gone().pid(), ::getpid());
  EXPECT_TRUE(ev->producer_gone().pool_kept());

  TestProducer second(*stub_);
  ASSERT_TRUE(second.claim(pool_metadata("cam", {2, 8}, "float32", 3)).ok());
  EXPECT_TRUE(second.granted().resumed());
  ev = sub.next();
  ASSERT_TRUE(ev);
  ASSERT_EQ(kind(*ev), "attached");
  EXPECT_EQ(ev->attached().latest_seq(), 5u);
  EXPECT_EQ(ev->attached().layout().generation(), first.granted().layout().generation());
  ASSERT_TRUE(second.publish(6));
  ev = sub.next();
  ASSERT_TRUE(ev);
  ASSERT_EQ(kind(*ev), "frame");
  EXPECT_EQ(ev->frame().seq(), 6u);

  ASSERT_TRUE(delete_pool(*stub_, "cam", true).ok());
  ev = sub.next();
  ASSERT_TRUE(ev);
  ASSERT_EQ(kind(*ev), "gone");
  EXPECT_FALSE(ev->producer_gone().pool_kept());
  ev = sub.next();
  ASSERT_TRUE(ev);
  ASSERT_EQ(kind(*ev), "removed");
  EXPECT_FALSE(ev->removed().reason().empty());
  EXPECT_EQ(second.wait_end().error_code(), grpc::StatusCode::ABORTED);

  // The subscription stays, and sees the next producer.
  TestProducer third(*stub_);
  ASSERT_TRUE(third.claim(pool_metadata("cam", {2, 8}, "float32", 3)).ok());
  EXPECT_FALSE(third.granted().resumed());
  ev = sub.next();
  ASSERT_TRUE(ev);
  ASSERT_EQ(kind(*ev), "attached");
  EXPECT_NE(ev->attached().layout().generation(), first.granted().layout().generation());
  EXPECT_EQ(ev->attached().latest_seq(), 0u);
  EXPECT_FALSE(sub.next(milliseconds(50)));  // nothing else
}

TEST_F(DaemonIntegration, DropsAreCountedForASubscriberThatDoesNotRead) {
  TestProducer producer(*stub_);
  ASSERT_TRUE(producer.claim(pool_metadata("cam")).ok());
  TestSubscriber stuck(*stub_, "cam", /*keep_last=*/8, /*read_now=*/false);
  ASSERT_TRUE(eventually([&] {
    v1::PoolInfo info;
    return get_pool(*stub_, "cam", &info).ok() && info.stats().subscribers() == 1;
  }));

  // Publish until the daemon has to drop: the transport's buffers fill first.
  uint64_t seq = 0;
  uint64_t dropped = 0;
  while (seq < 2'000'000 && dropped == 0) {
    for (int i = 0; i < 5000; ++i) ASSERT_TRUE(producer.publish(++seq));
    v1::PoolInfo info;
    ASSERT_TRUE(eventually([&] {
      return get_pool(*stub_, "cam", &info).ok() && info.stats().frames_published() == seq;
    }));
    ASSERT_EQ(info.stats().subscriber_size(), 1);
    EXPECT_EQ(info.stats().subscriber(0).keep_last(), 4u) << "keep_last 8, capped at the ring's 4";
    EXPECT_LE(info.stats().subscriber(0).queued(), 4u);
    dropped = info.stats().subscriber(0).dropped();
    EXPECT_EQ(info.stats().dropped(), dropped);
  }
  std::cout << "first drops after " << seq << " notices\n";
  ASSERT_GT(dropped, 0u);
  const uint64_t last = seq;

  // Every frame is either delivered, in order, or counted as dropped.
  stuck.start_reading();
  auto ev = stuck.next();
  ASSERT_TRUE(ev);
  EXPECT_EQ(kind(*ev), "attached");
  uint64_t frames = 0;
  uint64_t prev = 0;
  uint64_t last_dropped = 0;
  while (prev < last) {
    ev = stuck.next();
    ASSERT_TRUE(ev) << "after seq " << prev;
    ASSERT_EQ(kind(*ev), "frame");
    ASSERT_GT(ev->frame().seq(), prev);
    ASSERT_GE(ev->dropped(), last_dropped);
    prev = ev->frame().seq();
    last_dropped = ev->dropped();
    ++frames;
  }
  EXPECT_EQ(frames + last_dropped, last);
  EXPECT_GE(last_dropped, dropped);
  v1::PoolInfo info;
  ASSERT_TRUE(eventually([&] {
    return get_pool(*stub_, "cam", &info).ok() && info.stats().subscriber_size() == 1 &&
           info.stats().subscriber(0).delivered() == frames;
  }));
  EXPECT_EQ(info.stats().subscriber(0).dropped(), last_dropped);
  EXPECT_EQ(info.stats().subscriber(0).queued(), 0u);
}

TEST_F(DaemonIntegration, ListGetAndDelete) {
  EXPECT_TRUE(list_pools(*stub_).empty());
  TestProducer a(*stub_);
  TestProducer b(*stub_);
  ASSERT_TRUE(a.claim(pool_metadata("a.cam", {480, 640, 3})).ok());
  ASSERT_TRUE(b.claim(pool_metadata("b:depth", {480, 640}, "float32", 2)).ok());
  for (uint64_t s = 1; s <= 4; ++s) ASSERT_TRUE(a.publish(s));

  auto pools = list_pools(*stub_);
  ASSERT_EQ(pools.size(), 2u);
  EXPECT_EQ(pools[0].metadata().name(), "a.cam");
  EXPECT_EQ(pools[1].metadata().name(), "b:depth");

  v1::PoolInfo info;
  // latest_seq is read from the header, which the producer writes before each
  // notice; frames_published counts the notices the daemon has handled.
  ASSERT_TRUE(eventually([&] {
    return get_pool(*stub_, "a.cam", &info).ok() && info.stats().frames_published() == 4;
  }));
  EXPECT_EQ(info.stats().latest_seq(), 4u);
  EXPECT_EQ(info.metadata().dtype_str(), "uint8");
  EXPECT_EQ(info.metadata().backend_type(), "numpy");
  EXPECT_EQ(info.metadata().device(), "cpu");
  EXPECT_EQ(info.metadata().element_size(), 1u);
  EXPECT_EQ(info.metadata().total_size(), 480u * 640 * 3 * 4);
  EXPECT_EQ(info.metadata().shm_name(), daemon_.shm_prefix() + "a.cam");
  EXPECT_EQ(info.stats().owner_uid(), ::getuid());
  EXPECT_EQ(info.metadata().creator_pid(), ::getpid());
  EXPECT_EQ(info.layout().slot_count(), 4u);
  EXPECT_EQ(info.layout().frame_size(), 480u * 640 * 3);
  EXPECT_EQ(info.stats().frames_published(), 4u);
  EXPECT_EQ(info.stats().producer_pid(), ::getpid());
  EXPECT_GT(info.stats().created_unix_ns(), 0);
  EXPECT_GT(info.stats().last_publish_unix_ns(), 0);

  grpc::Status st = get_pool(*stub_, "nope", &info);
  EXPECT_EQ(st.error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_EQ(st.error_message(), "no pool named 'nope'");

  // Held: only with force, which ends the producer's session.
  st = delete_pool(*stub_, "a.cam", false);
  EXPECT_EQ(st.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_NE(st.error_message().find("pid " + std::to_string(::getpid())), std::string::npos);
  EXPECT_EQ(daemon_.segments().size(), 2u);
  ASSERT_TRUE(delete_pool(*stub_, "a.cam", true).ok());
  EXPECT_EQ(a.wait_end().error_code(), grpc::StatusCode::ABORTED);
  EXPECT_EQ(get_pool(*stub_, "a.cam", &info).error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_EQ(daemon_.segments(), std::vector<std::string>{daemon_.shm_prefix() + "b:depth"});

  // Free (its producer left, pool kept): no force needed.
  ASSERT_TRUE(b.close().ok());
  ASSERT_TRUE(delete_pool(*stub_, "b:depth", false).ok());
  EXPECT_TRUE(list_pools(*stub_).empty());
  EXPECT_TRUE(daemon_.segments().empty());
  EXPECT_EQ(delete_pool(*stub_, "b:depth", false).error_code(), grpc::StatusCode::NOT_FOUND);
}

TEST(DaemonIntegrationLimits, BadInputsAreRefusedAndCreateNothing) {
  DaemonProcess daemon({"--max-pool-bytes", "1M", "--max-pools", "1"});
  auto stub = broker_stub(daemon);
  struct Case {
    std::string what;
    v1::PoolMetadata md;
    grpc::StatusCode code;
  };
  std::vector<Case> cases = {
      {"empty name", pool_metadata(""), grpc::StatusCode::INVALID_ARGUMENT},
      {"../x", pool_metadata("../x"), grpc::StatusCode::INVALID_ARGUMENT},
      {"/etc/passwd", pool_metadata("/etc/passwd"), grpc::StatusCode::INVALID_ARGUMENT},
      {"10,000 characters", pool_metadata(std::string(10000, 'n')),
       grpc::StatusCode::INVALID_ARGUMENT},
      {"10^12 elements", pool_metadata("big", {1000000, 1000000}),
       grpc::StatusCode::RESOURCE_EXHAUSTED},
      {"2^80 elements", pool_metadata("huge", {1LL << 40, 1LL << 40}),
       grpc::StatusCode::INVALID_ARGUMENT},
      {"negative dim", pool_metadata("neg", {-3}), grpc::StatusCode::INVALID_ARGUMENT},
      {"history_len 0", pool_metadata("h0", {4}, "uint8", 0), grpc::StatusCode::INVALID_ARGUMENT},
      {"unknown dtype", pool_metadata("dt", {4}, "float33"), grpc::StatusCode::INVALID_ARGUMENT},
      {"over --max-pool-bytes", pool_metadata("over", {1024, 1024}, "uint8", 2),
       grpc::StatusCode::RESOURCE_EXHAUSTED},
  };
  v1::PoolMetadata bad_device = pool_metadata("dev");
  bad_device.set_device("tpu:0");
  cases.push_back({"bad device", bad_device, grpc::StatusCode::INVALID_ARGUMENT});
  for (const Case& c : cases) {
    TestProducer p(*stub);
    grpc::Status st = p.claim(c.md);
    EXPECT_EQ(st.error_code(), c.code) << c.what << ": " << st.error_message();
    EXPECT_FALSE(st.error_message().empty()) << c.what;
    EXPECT_LT(st.error_message().size(), 400u) << c.what;
  }
  EXPECT_TRUE(list_pools(*stub).empty());
  EXPECT_TRUE(daemon.segments().empty());

  // Queries and subscriptions validate names the same way.
  v1::PoolInfo info;
  EXPECT_EQ(get_pool(*stub, "../x", &info).error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(get_pool(*stub, std::string(10000, 'n'), &info).error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(delete_pool(*stub, "", true).error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  {
    TestSubscriber sub(*stub, "../x");
    auto st = sub.wait_end();
    ASSERT_TRUE(st);
    EXPECT_EQ(st->error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  }
  {
    TestSubscriber sub(*stub, "cam", 70000);
    auto st = sub.wait_end();
    ASSERT_TRUE(st);
    EXPECT_EQ(st->error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  }

  // --max-pools 1: the second pool is refused.
  TestProducer one(*stub);
  ASSERT_TRUE(one.claim(pool_metadata("one")).ok());
  TestProducer two(*stub);
  EXPECT_EQ(two.claim(pool_metadata("two")).error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
  EXPECT_EQ(daemon.segments().size(), 1u);
}

// Frame events come from the daemon's frame watcher, whichever way it sleeps:
// futex_waitv (the default where the kernel has it) or a thread per pool.
// Several pools at once, a lifecycle-only subscriber beside a frame one.
class FrameWatchModes : public ::testing::TestWithParam<const char*> {};

TEST_P(FrameWatchModes, EveryFrameOfEveryPoolIsAnnouncedOnce) {
  DaemonProcess daemon({"--frame-watch", GetParam()});
  auto stub = broker_stub(daemon);
  const std::vector<std::string> names = {"a", "b", "c"};
  std::vector<std::unique_ptr<TestSubscriber>> subs, lifecycle;
  std::vector<std::unique_ptr<TestProducer>> producers;
  for (const auto& name : names) {
    subs.push_back(std::make_unique<TestSubscriber>(*stub, name, 100));
    ASSERT_EQ(kind(*subs.back()->next()), "waiting");
    producers.push_back(std::make_unique<TestProducer>(*stub));
    ASSERT_TRUE(producers.back()->claim(pool_metadata(name, {16}, "uint8", 8)).ok());
    ASSERT_EQ(kind(*subs.back()->next()), "attached");
  }
  for (uint64_t seq = 1; seq <= 30; ++seq) {
    for (size_t i = 0; i < names.size(); ++i) {
      ASSERT_TRUE(producers[i]->publish(seq));
      auto ev = subs[i]->next();
      ASSERT_TRUE(ev) << names[i] << ": no event for frame " << seq;
      ASSERT_EQ(kind(*ev), "frame");
      EXPECT_EQ(ev->frame().seq(), seq);
      EXPECT_EQ(ev->frame().slot(), seq % 8);
      EXPECT_GT(ev->frame().timestamp_ns(), 0);
    }
  }
  for (auto& s : subs) EXPECT_FALSE(s->next(std::chrono::milliseconds(100))) << "nothing twice";
  v1::PoolInfo info;
  ASSERT_TRUE(get_pool(*stub, "a", &info).ok());
  EXPECT_EQ(info.stats().latest_seq(), 30u);
  EXPECT_EQ(info.stats().frames_published(), 30u);
  EXPECT_GT(info.stats().last_publish_unix_ns(), 0);
}

INSTANTIATE_TEST_SUITE_P(Daemon, FrameWatchModes, ::testing::Values("auto", "per-pool"),
                         [](const auto& info) {
                           return std::string(info.param) == "auto" ? "Auto" : "PerPool";
                         });

// A futex-path consumer asks for lifecycle events only: no frame event
// reaches it, and the pool's futex waiters count it all the same.
TEST_F(DaemonIntegration, ALifecycleOnlySubscriberGetsNoFrameEvents) {
  TestSubscriber quiet(*stub_, "quiet", 100, true, /*lifecycle_only=*/true);
  TestSubscriber loud(*stub_, "quiet");
  // Both subscribed before the pool exists (their streams start on their own).
  auto first = quiet.next();
  ASSERT_TRUE(first);
  EXPECT_EQ(kind(*first), "waiting");
  first = loud.next();
  ASSERT_TRUE(first);
  EXPECT_EQ(kind(*first), "waiting");
  TestProducer p(*stub_);
  ASSERT_TRUE(p.claim(pool_metadata("quiet")).ok());
  for (uint64_t seq = 1; seq <= 3; ++seq) {
    ASSERT_TRUE(p.publish(seq));
    std::optional<v1::SubscribeEvent> ev;
    while ((ev = loud.next()) && kind(*ev) != "frame") {
    }
    ASSERT_TRUE(ev) << "the frame subscriber got no frame " << seq;
    EXPECT_EQ(ev->frame().seq(), seq);
  }
  v1::PoolInfo info;
  ASSERT_TRUE(get_pool(*stub_, "quiet", &info).ok());
  ASSERT_EQ(info.stats().subscriber_size(), 2);
  int lifecycle_only = 0;
  for (const auto& sub : info.stats().subscriber()) lifecycle_only += sub.lifecycle_only();
  EXPECT_EQ(lifecycle_only, 1);
  ASSERT_TRUE(p.close().ok());
  std::vector<std::string> kinds;
  for (auto ev = quiet.next(); ev; ev = quiet.next(std::chrono::milliseconds(200))) {
    kinds.push_back(kind(*ev));
  }
  EXPECT_EQ(kinds, (std::vector<std::string>{"attached", "gone"}));
}

// A GPU pool through the real daemon: its claim carries the device memory's
// CUDA IPC handles (stand-in bytes: the daemon never opens them), malformed
// ones are refused, and eight subscribers, GetPool and the lifecycle see them.
TEST_F(DaemonIntegration, AGpuPoolsHandlesReachEverySubscriberAndGetPool) {
  std::vector<std::unique_ptr<TestSubscriber>> subs;
  for (int i = 0; i < 8; ++i) {
    subs.push_back(std::make_unique<TestSubscriber>(*stub_, "gpu"));
    ASSERT_EQ(kind(*subs.back()->next()), "waiting");
  }
  {
    v1::ClaimPool bad = gpu_claim_of("gpu");
    bad.mutable_cuda()->set_memory_handle("short");
    TestProducer p(*stub_);
    const grpc::Status st = p.claim(bad);
    EXPECT_EQ(st.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
    EXPECT_NE(st.error_message().find("cuda.memory_handle"), std::string::npos)
        << st.error_message();
  }
  TestProducer p(*stub_);
  ASSERT_TRUE(p.claim(gpu_claim_of("gpu")).ok());
  EXPECT_EQ(p.granted().layout().memory_kind(), v1::MEMORY_KIND_CUDA);
  for (auto& sub : subs) {
    auto ev = sub->next();
    ASSERT_TRUE(ev);
    ASSERT_EQ(kind(*ev), "attached");
    const v1::CudaMemory& cuda = ev->attached().cuda();
    EXPECT_EQ(cuda.sharing(), v1::CudaMemory::CUDA_SHARING_LEGACY_IPC);
    EXPECT_EQ(cuda.memory_handle(), std::string(64, '\x11'));
    ASSERT_EQ(cuda.event_handles_size(), 2);
    EXPECT_EQ(cuda.event_handles(1), std::string(64, '\x22'));
    EXPECT_EQ(cuda.device_uuid(), std::string(16, '\x31'));
  }
  v1::PoolInfo info;
  ASSERT_TRUE(get_pool(*stub_, "gpu", &info).ok());
  EXPECT_EQ(info.metadata().device(), "cuda:0");
  EXPECT_EQ(info.cuda().device_ordinal(), 0);
  EXPECT_EQ(info.cuda().allocation_size(), 2u << 20);
  EXPECT_NE(info.metadata().payload_json().find("\"cuda_ipc\""), std::string::npos);
  // Its memory leaves with its producer: the pool goes, whatever the retention.
  ASSERT_TRUE(p.close().ok());
  for (auto& sub : subs) {
    auto gone = sub->next();
    ASSERT_TRUE(gone);
    ASSERT_EQ(kind(*gone), "gone");
    EXPECT_FALSE(gone->producer_gone().pool_kept());
    auto removed = sub->next();
    ASSERT_TRUE(removed);
    EXPECT_EQ(kind(*removed), "removed");
  }
  EXPECT_EQ(get_pool(*stub_, "gpu", &info).error_code(), grpc::StatusCode::NOT_FOUND);
}

// The deprecated Published message is what an older client sends.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
TEST_F(DaemonIntegration, SurvivesGarbage) {
  v1::ProducerMessage claim;
  *claim.mutable_claim()->mutable_metadata() = pool_metadata("cam");
  claim.mutable_claim()->set_pid(::getpid());
  v1::ProducerMessage published;
  published.mutable_published()->set_seq(1);
  published.mutable_published()->set_slot(1);

  {  // Published before ClaimPool.
    TestProducer p(*stub_);
    p.send(published);
    grpc::Status st = p.wait_end();
    EXPECT_EQ(st.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
    EXPECT_NE(st.error_message().find("ClaimPool"), std::string::npos);
  }
  {  // An empty message.
    TestProducer p(*stub_);
    p.send(v1::ProducerMessage());
    EXPECT_EQ(p.wait_end().error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  }
  {  // A second ClaimPool: the session ends and its lease with it.
    TestProducer p(*stub_);
    ASSERT_TRUE(p.claim(pool_metadata("cam")).ok());
    p.send(claim);
    EXPECT_EQ(p.wait_end().error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  }
  v1::PoolInfo info;
  ASSERT_TRUE(get_pool(*stub_, "cam", &info).ok());
  EXPECT_EQ(info.stats().producer_pid(), 0);
  {  // An older client's Published notices, whatever they say, are ignored:
     // the daemon reads frames from the pool, and the lease goes on.
    TestProducer p(*stub_);
    ASSERT_TRUE(p.claim(pool_metadata("cam")).ok());
    ASSERT_TRUE(p.publish(1));
    ASSERT_TRUE(p.publish(2));
    v1::ProducerMessage bad_slot;
    bad_slot.mutable_published()->set_seq(3);
    bad_slot.mutable_published()->set_slot(0);
    ASSERT_TRUE(p.send(published));
    ASSERT_TRUE(p.send(bad_slot));
    v1::PoolInfo held;
    ASSERT_TRUE(get_pool(*stub_, "cam", &held).ok());
    EXPECT_EQ(held.stats().producer_pid(), ::getpid());
    EXPECT_EQ(held.stats().latest_seq(), 2u) << "the pool's own latest_seq, not a notice's";
    EXPECT_TRUE(p.close().ok());
  }
  {  // A stream that ends before saying anything.
    TestProducer p(*stub_);
    EXPECT_TRUE(p.close().ok());
  }
  {  // Bytes that are not a protobuf message, on a unary method.
    grpc::GenericStub generic(broker_channel(daemon_));
    grpc::ClientContext ctx;
    grpc::Slice slice(std::string("\xff\xff\xff\xff garbage"));
    grpc::ByteBuffer req(&slice, 1);
    grpc::ByteBuffer resp;
    std::promise<grpc::Status> done;
    generic.UnaryCall(&ctx, "/tensoripc.v1.Broker/GetPool", grpc::StubOptions(), &req, &resp,
                      [&](grpc::Status st) { done.set_value(st); });
    EXPECT_FALSE(done.get_future().get().ok());
  }
  {  // Bytes that are not HTTP/2 at all, on the socket.
    const int fd = ::socket(AF_UNIX, SOCK_STREAM, 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::strncpy(addr.sun_path, daemon_.socket_path().c_str(), sizeof addr.sun_path - 1);
    ASSERT_EQ(::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
    const char junk[] = "GET / HTTP/1.0\r\n\r\n\x00\x01\x02garbage";
    EXPECT_GT(::write(fd, junk, sizeof junk), 0);
    ::close(fd);
  }

  // Still serving, and the pool is intact.
  EXPECT_TRUE(daemon_.process().running());
  ASSERT_TRUE(get_pool(*stub_, "cam", &info).ok());
  EXPECT_EQ(info.stats().producer_pid(), 0);
  EXPECT_EQ(info.stats().latest_seq(), 2u);
  TestProducer p(*stub_);
  ASSERT_TRUE(p.claim(pool_metadata("cam")).ok());
  EXPECT_TRUE(p.granted().resumed());
  EXPECT_EQ(daemon_.segments().size(), 1u);
}
#pragma GCC diagnostic pop

}  // namespace
}  // namespace tensoripc::testing
