// The frame watcher on real pool memory, in both of its modes (futex_waitv
// groups, and a thread per pool for kernels before 5.16), with its rescan
// safety net switched off, so that a lost wake-up shows as a frame never
// reported rather than as a late one.
#include "daemon/frame_watcher.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <map>
#include <memory>
#include <mutex>
#include <random>
#include <thread>
#include <vector>

#include "common/futex.h"
#include "common/process.h"
#include "pool/mapping.h"
#include "pool/model.h"
#include "pool/ring.h"
#include "tests/support/child_process.h"

namespace tensoripc::daemon {
namespace {

using testing::eventually;
using Mode = FrameWatcher::Mode;

std::shared_ptr<PoolMapping> make_pool(int n) {
  static std::atomic<int> counter{0};
  PoolMetadata md;
  md.name = "watch" + std::to_string(n);
  md.shape = {8};
  md.dtype = DType::kUInt8;
  md.history_len = 4;
  EXPECT_TRUE(complete_metadata(&md, PoolLimits{}).ok());
  md.shm_name = memory_label(
      "tipcw" + std::to_string(::getpid()) + "x" + std::to_string(counter++) + ".", md.name);
  auto m = PoolMapping::create(md, 0x77 + static_cast<uint64_t>(n));
  EXPECT_TRUE(m.ok()) << m.status().message();
  // What the registry does while a pool has subscribers: the producer wakes.
  (*m)->header().futex_waiters.store(1);
  return *m;
}

// The latest_seq each id was last reported at, as the registry would read it.
class Reports {
 public:
  void on_wake(uint64_t id, const PoolMapping& m) {
    std::lock_guard<std::mutex> lock(mu_);
    seen_[id] = m.header().latest_seq.load();
    ++calls_[id];
  }
  uint64_t seen(uint64_t id) {
    std::lock_guard<std::mutex> lock(mu_);
    return seen_[id];
  }
  uint64_t calls(uint64_t id) {
    std::lock_guard<std::mutex> lock(mu_);
    return calls_[id];
  }

 private:
  std::mutex mu_;
  std::map<uint64_t, uint64_t> seen_;
  std::map<uint64_t, uint64_t> calls_;
};

class FrameWatcherTest : public ::testing::TestWithParam<Mode> {
 protected:
  void SetUp() override {
    if (GetParam() == Mode::kWaitv && !futex_wait_any_supported()) {
      GTEST_SKIP() << "this kernel has no futex_waitv (Linux 5.16 or later)";
    }
  }
};

// Ping-pong: frame k is written only once frame k-1 was reported, on one of
// three pools at random, with a random pause before the write, so that many
// writes land in the window between the watcher's look and its sleep. A
// lost wake-up leaves a frame unreported: with the rescan off, for ever.
TEST_P(FrameWatcherTest, NoWakeUpIsLostUnderPingPong) {
  std::vector<std::shared_ptr<PoolMapping>> pools;
  for (int i = 0; i < 3; ++i) pools.push_back(make_pool(i));
  Reports reports;
  FrameWatcher watcher([&](uint64_t id) { reports.on_wake(id, *pools[id - 1]); }, GetParam(),
                       std::chrono::nanoseconds(0));
  for (uint64_t id = 1; id <= 3; ++id) watcher.watch(id, pools[id - 1]);
  EXPECT_EQ(watcher.uses_waitv(), GetParam() == Mode::kWaitv);
  EXPECT_EQ(watcher.threads(), GetParam() == Mode::kWaitv ? 1u : 3u);

  std::mt19937 rng(42);
  constexpr int kRounds = 6000;
  for (int k = 0; k < kRounds; ++k) {
    const uint64_t id = 1 + rng() % 3;
    PoolMapping& m = *pools[id - 1];
    switch (rng() % 4) {
      case 0:
        break;
      case 1:
        for (int i = 0; i < 50; ++i) cpu_relax();
        break;
      case 2:
        std::this_thread::yield();
        break;
      case 3:
        std::this_thread::sleep_for(std::chrono::microseconds(20));
        break;
    }
    const uint64_t seq = write_next_frame(m, nullptr).seq;
    ASSERT_TRUE(eventually([&] { return reports.seen(id) >= seq; }, std::chrono::seconds(10)))
        << "round " << k << ": frame " << seq << " of pool " << id << " was never reported";
  }
}

// Pools come and go while others are written: a pool is reported only while
// watched (give or take the call under way), and stop() returns promptly.
TEST_P(FrameWatcherTest, WatchAndUnwatchWhileFramesFlow) {
  std::vector<std::shared_ptr<PoolMapping>> pools;
  for (int i = 0; i < 4; ++i) pools.push_back(make_pool(i));
  Reports reports;
  FrameWatcher watcher([&](uint64_t id) { reports.on_wake(id, *pools[id - 1]); }, GetParam(),
                       std::chrono::nanoseconds(0));
  watcher.watch(1, pools[0]);
  watcher.watch(2, pools[1]);
  std::atomic<bool> done{false};
  std::thread writer([&] {
    while (!done.load()) {
      write_next_frame(*pools[0], nullptr);
      std::this_thread::sleep_for(std::chrono::microseconds(100));
    }
  });
  for (int i = 0; i < 50; ++i) {
    watcher.watch(3, pools[2]);
    const uint64_t seq = write_next_frame(*pools[2], nullptr).seq;
    ASSERT_TRUE(eventually([&] { return reports.seen(3) >= seq; })) << "after watch " << i;
    watcher.unwatch(3);
  }
  watcher.unwatch(3);  // again: a no-op
  // An unwatched pool is not reported (the last call under way aside).
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  const uint64_t calls = reports.calls(3);
  write_next_frame(*pools[2], nullptr);
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  EXPECT_EQ(reports.calls(3), calls);
  EXPECT_EQ(reports.calls(4), 0u) << "never watched";
  // Pool 2 was watched throughout and never written: reported once, at the
  // start (a new watch looks at once), and not woken by the others' frames.
  EXPECT_LE(reports.calls(2), 1u);
  done = true;
  writer.join();
  EXPECT_GT(reports.seen(1), 0u);

  const auto t0 = std::chrono::steady_clock::now();
  watcher.stop();
  watcher.stop();  // idempotent
  EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::seconds(2));
  watcher.watch(5, pools[3]);  // after stop: ignored
  EXPECT_EQ(watcher.threads(), 0u);
}

INSTANTIATE_TEST_SUITE_P(Modes, FrameWatcherTest, ::testing::Values(Mode::kWaitv, Mode::kPerPool),
                         [](const auto& info) {
                           return info.param == Mode::kWaitv ? "Waitv" : "PerPool";
                         });

// 127 pools share a thread (one word of each futex_waitv is the control word).
TEST(FrameWatcherGroups, AThreadPer127Pools) {
  if (!futex_wait_any_supported()) GTEST_SKIP() << "no futex_waitv on this kernel";
  std::vector<std::shared_ptr<PoolMapping>> pools;
  for (int i = 0; i < 128; ++i) pools.push_back(make_pool(i));
  Reports reports;
  std::map<uint64_t, std::shared_ptr<PoolMapping>> by_id;  // filled before each watch
  std::mutex by_id_mu;
  auto watch = [&](FrameWatcher& w, uint64_t id, std::shared_ptr<PoolMapping> m) {
    {
      std::lock_guard<std::mutex> lock(by_id_mu);
      by_id[id] = m;
    }
    w.watch(id, m);
  };
  FrameWatcher watcher([&](uint64_t id) {
    std::shared_ptr<PoolMapping> m;
    {
      std::lock_guard<std::mutex> lock(by_id_mu);
      m = by_id.at(id);
    }
    reports.on_wake(id, *m);
  });
  for (uint64_t id = 1; id <= 127; ++id) watch(watcher, id, pools[id - 1]);
  EXPECT_EQ(watcher.threads(), 1u);
  watch(watcher, 128, pools[127]);
  EXPECT_EQ(watcher.threads(), 2u);
  for (uint64_t id : {uint64_t{1}, uint64_t{64}, uint64_t{127}, uint64_t{128}}) {
    const uint64_t seq = write_next_frame(*pools[id - 1], nullptr).seq;
    EXPECT_TRUE(eventually([&] { return reports.seen(id) >= seq; })) << id;
  }
  // A freed place is used again before a new thread is started.
  watcher.unwatch(64);
  watch(watcher, 129, pools[63]);
  EXPECT_EQ(watcher.threads(), 2u);
}

}  // namespace
}  // namespace tensoripc::daemon
