// The public query API (DaemonClient) and attaching by name
// (Consumer::attach), against the real tensor-ipcd and producers in other
// processes.
#include <gtest/gtest.h>
#include <unistd.h>

#include <thread>

#include "client_fixture.h"
#include "tensoripc/tensoripc.h"

namespace tensoripc::testing {
namespace {

TEST_F(ClientTest, DaemonInfoSaysWhoServesAndWhoIsAsking) {
  DaemonClient daemon(daemon_->socket_path());
  const DaemonInfo info = daemon.info();
  EXPECT_FALSE(info.version.empty());
  EXPECT_EQ(info.pid, daemon_->pid());
  EXPECT_EQ(info.socket_path, daemon_->socket_path());
  EXPECT_EQ(info.caller_pid, ::getpid());
  EXPECT_EQ(info.caller_uid, ::getuid());
  EXPECT_EQ(info.retention, "keep");
  EXPECT_GT(info.max_total_bytes, 0u);
  EXPECT_EQ(info.pools, 0u);
  const int64_t now = std::chrono::duration_cast<std::chrono::nanoseconds>(
                          std::chrono::system_clock::now().time_since_epoch())
                          .count();
  EXPECT_GT(info.started_unix_ns, now - int64_t{600} * 1000000000);
  EXPECT_LE(info.started_unix_ns, now);

  Producer producer(PoolMetadata::create("counted", {1000}, DType::kUInt8, 4), producer_options());
  const DaemonInfo after = daemon.info();
  EXPECT_EQ(after.pools, 1u);
  EXPECT_GE(after.pool_bytes, 4000u);
  EXPECT_GE(after.streams, 1u);  // the producer's session
}

TEST_F(ClientTest, ListAndGetPoolsShowMetadataStatsAndSubscribers) {
  auto producer = start_producer("listed", 4096, 6, {"--frames", "5", "--hold"});
  ASSERT_TRUE(producer->wait_for_line("DONE", seconds(20)));
  Consumer consumer(PoolMetadata::create("listed", {4096}, DType::kUInt8, 6), consumer_options());

  DaemonClient daemon(daemon_->socket_path());
  const std::vector<PoolInfo> pools = daemon.list_pools();
  ASSERT_EQ(pools.size(), 1u);
  const PoolInfo& p = pools[0];
  EXPECT_EQ(p.metadata.name, "listed");
  EXPECT_EQ(p.metadata.shape, std::vector<int64_t>{4096});
  EXPECT_EQ(p.metadata.dtype, DType::kUInt8);
  EXPECT_EQ(p.metadata.history_len, 6u);
  EXPECT_EQ(p.layout.slot_count, 6u);
  EXPECT_EQ(p.layout.frame_size, 4096u);
  EXPECT_GT(p.layout.segment_size, 6u * 4096u);
  EXPECT_TRUE(p.layout.cuda_sharing.empty());
  EXPECT_EQ(p.stats.producer_pid, producer->pid());
  EXPECT_EQ(p.stats.latest_seq, 5u);
  EXPECT_EQ(p.stats.owner_uid, ::getuid());
  EXPECT_GT(p.stats.last_publish_unix_ns, 0);
  EXPECT_GE(p.stats.last_publish_unix_ns, p.stats.created_unix_ns);

  const std::optional<PoolInfo> got = daemon.get_pool("listed");
  ASSERT_TRUE(got);
  ASSERT_EQ(got->stats.subscriber.size(), 1u);
  EXPECT_EQ(got->stats.subscriber[0].pid, ::getpid());
  EXPECT_FALSE(daemon.get_pool("missing").has_value());
}

TEST_F(ClientTest, DeletePoolNeedsForceForAHeldPoolAndTheProducerStops) {
  Producer producer(PoolMetadata::create("doomed", {16}, DType::kFloat32, 2), producer_options());
  std::vector<float> frame(16, 1.0f);
  producer.put(TensorView(frame.data(), DType::kFloat32, {16}));

  DaemonClient daemon(daemon_->socket_path());
  EXPECT_THROW(daemon.delete_pool("doomed"), StateError);
  EXPECT_TRUE(daemon.get_pool("doomed").has_value());
  EXPECT_TRUE(daemon.delete_pool("doomed", /*force=*/true));
  EXPECT_FALSE(daemon.get_pool("doomed").has_value());
  EXPECT_FALSE(daemon.delete_pool("doomed"));

  // The producer's lease was ended on purpose: it does not claim the pool
  // back (that would undo the delete); put() says what happened.
  const auto deadline = std::chrono::steady_clock::now() + seconds(20);
  std::string error;
  while (error.empty() && std::chrono::steady_clock::now() < deadline) {
    try {
      producer.put(TensorView(frame.data(), DType::kFloat32, {16}));
      std::this_thread::sleep_for(milliseconds(10));
    } catch (const StateError& e) {
      error = e.what();
    }
  }
  EXPECT_NE(error.find("DeletePool with force"), std::string::npos) << error;
  std::this_thread::sleep_for(milliseconds(200));  // a re-claim would be back by now
  EXPECT_FALSE(daemon.get_pool("doomed").has_value());
}

TEST_F(ClientTest, AConsumerAttachesByNameAloneAndWithASmallerHistory) {
  auto producer = start_producer("by_name", 256, 8, {"--frames", "6", "--hold"});
  ASSERT_TRUE(producer->wait_for_line("DONE", seconds(20)));

  Consumer all = Consumer::attach("by_name", 0, consumer_options());
  const PoolMetadata md = all.metadata();
  EXPECT_EQ(md.shape, std::vector<int64_t>{256});
  EXPECT_EQ(md.dtype, DType::kUInt8);
  EXPECT_EQ(md.history_len, 8u);
  std::optional<FrameHistory> h = all.read(6);
  ASSERT_TRUE(h);
  EXPECT_EQ(h->seqs, (std::vector<uint64_t>{6, 5, 4, 3, 2, 1}));

  Consumer few = Consumer::attach("by_name", 3, consumer_options());
  EXPECT_EQ(few.metadata().history_len, 8u);  // metadata() is the pool's
  h = few.read(3);
  ASSERT_TRUE(h);
  EXPECT_EQ(h->seqs, (std::vector<uint64_t>{6, 5, 4}));
  EXPECT_THROW(few.get(4), InvalidArgumentError);  // its reads are bounded by its own history

  EXPECT_THROW(Consumer::attach("by_name", 9, consumer_options()), MetadataMismatchError);
  try {
    Consumer::attach("nobody_here", 0, consumer_options());
    FAIL() << "attached to a pool that does not exist";
  } catch (const PoolNotFoundError& e) {
    EXPECT_EQ(e.pool(), "nobody_here");
    EXPECT_NE(std::string(e.what()).find("no pool named 'nobody_here'"), std::string::npos);
  }
}

TEST(DaemonClientTest, NoDaemonIsDaemonUnavailableNamingTheSocket) {
  const std::string missing = "/tmp/tipc-no-such-dir-" + std::to_string(::getpid()) + "/x.sock";
  DaemonClient daemon(missing, milliseconds(2000));
  try {
    daemon.list_pools();
    FAIL() << "listed pools of no daemon";
  } catch (const DaemonUnavailableError& e) {
    EXPECT_EQ(e.socket_path(), missing);
    EXPECT_NE(std::string(e.what()).find("does not exist"), std::string::npos) << e.what();
  }
  EXPECT_THROW(Consumer::attach("x", 0, [&] {
                 ConsumerOptions o;
                 o.socket_path = missing;
                 return o;
               }()),
               DaemonUnavailableError);
}

}  // namespace
}  // namespace tensoripc::testing
