// Many clients coming and going at once: claims racing for the same topics,
// publishing, half-closing or cancelling; subscribers cancelling at random;
// forced deletes in between. Afterwards the daemon must still serve, with no
// lease or subscription left behind. Mostly a job for ASan/TSan builds: it
// drives every reactor path (finish while writing, cancel while reading,
// revoke while claiming) concurrently.
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <atomic>
#include <random>
#include <thread>
#include <vector>

#include "tests/daemon/broker_client.h"
#include "tests/support/broker_stub.h"
#include "tests/support/process.h"

namespace tensoripc::testing {
namespace {

TEST(DaemonChurn, ClientsComingAndGoingLeaveNothingBehind) {
  DaemonProcess daemon;
  const std::vector<std::string> topics = {"t0", "t1", "t2"};
  std::atomic<bool> stop{false};
  std::atomic<int> granted{0};
  std::atomic<int> refused{0};
  std::vector<std::thread> threads;

  for (int i = 0; i < 3; ++i) {
    threads.emplace_back([&, i] {
      auto stub = broker_stub(daemon);
      std::mt19937 rng(i);
      while (!stop) {
        TestProducer p(*stub);
        if (!p.claim(pool_metadata(topics[rng() % topics.size()])).ok()) {
          ++refused;
          continue;
        }
        ++granted;
        uint64_t seq = p.granted().latest_seq();
        const int n = static_cast<int>(rng() % 200);
        for (int k = 0; k < n && p.publish(++seq); ++k) {
        }
        if (rng() % 2) {
          p.close();
        } else {
          p.cancel();
        }
      }
    });
  }
  for (int i = 0; i < 3; ++i) {
    threads.emplace_back([&, i] {
      auto stub = broker_stub(daemon);
      std::mt19937 rng(100 + i);
      while (!stop) {
        TestSubscriber s(*stub, topics[rng() % topics.size()], 1 + rng() % 4, rng() % 2 == 0);
        std::this_thread::sleep_for(std::chrono::milliseconds(rng() % 20));
      }  // destroyed: cancelled
    });
  }
  threads.emplace_back([&] {
    auto stub = broker_stub(daemon);
    std::mt19937 rng(7);
    while (!stop) {
      std::this_thread::sleep_for(std::chrono::milliseconds(20 + rng() % 30));
      grpc::ClientContext ctx;
      v1::DeletePoolRequest req;
      req.set_name(topics[rng() % topics.size()]);
      req.set_force(true);
      v1::DeletePoolResponse resp;
      stub->DeletePool(&ctx, req, &resp);
    }
  });

  // Churn until enough claims went through, however slow the build (TSan,
  // a loaded CI machine): a count of work done, not of time passed. A minute
  // without it is a hang.
  const auto start = std::chrono::steady_clock::now();
  auto elapsed = [&] { return std::chrono::steady_clock::now() - start; };
  while ((granted.load() < 20 || elapsed() < std::chrono::seconds(1)) &&
         elapsed() < std::chrono::seconds(60)) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  stop = true;
  for (auto& t : threads) t.join();
  EXPECT_GE(granted.load(), 20);

  ASSERT_TRUE(daemon.process().running());
  auto stub = broker_stub(daemon);
  EXPECT_TRUE(eventually([&] {
    grpc::ClientContext ctx;
    v1::ListPoolsResponse resp;
    if (!stub->ListPools(&ctx, v1::ListPoolsRequest(), &resp).ok()) return false;
    for (const auto& pool : resp.pools()) {
      if (pool.stats().producer_pid() != 0 || pool.stats().subscribers() != 0) return false;
    }
    return true;
  }));
  // Each pool left has exactly its segment, and nothing else is under the prefix.
  grpc::ClientContext ctx;
  v1::ListPoolsResponse resp;
  ASSERT_TRUE(stub->ListPools(&ctx, v1::ListPoolsRequest(), &resp).ok());
  EXPECT_EQ(daemon.segments().size(), static_cast<size_t>(resp.pools_size()));
  {
    TestProducer last(*stub);
    EXPECT_TRUE(last.claim(pool_metadata("t0")).ok());
  }
  // A clean exit: under ASan this also means no leak and no error in the daemon.
  const int status = daemon.terminate();
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << status;
}

}  // namespace
}  // namespace tensoripc::testing
