// The per-subscriber queue: frame events taken from the pool's feed, bounded
// by keep_last with the oldest dropped and counted, lifecycle events never
// dropped, order kept; and the feed's wake-ups.
#include "daemon/event_queue.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "daemon/rate_meter.h"
#include "pool/model.h"

namespace tensoripc::daemon {
namespace {

std::shared_ptr<const PoolEvent> lifecycle(PoolEvent::Kind kind, const std::string& why) {
  auto ev = std::make_shared<PoolEvent>();
  ev->kind = kind;
  ev->reason = why;
  return ev;
}
std::shared_ptr<const PoolEvent> removed(const std::string& why) {
  return lifecycle(PoolEvent::Kind::kRemoved, why);
}
// Any lifecycle event but kRemoved (which ends the queue's following of a feed).
std::shared_ptr<const PoolEvent> gone(const std::string& why) {
  return lifecycle(PoolEvent::Kind::kProducerGone, why);
}

// Drains the queue: "F<seq>/<dropped>" or "L<reason>/<dropped>" per event.
std::vector<std::string> drain(EventQueue& q) {
  std::vector<std::string> out;
  StreamEvent ev;
  while (q.pop(&ev)) {
    out.push_back(ev.is_frame()
                      ? "F" + std::to_string(ev.frame.seq) + "/" + std::to_string(ev.dropped)
                      : "L" + ev.lifecycle->reason + "/" + std::to_string(ev.dropped));
  }
  return out;
}

// A pool's ring of `slots` frames of 8 bytes, in memory of its own.
std::shared_ptr<PoolMapping> ring_of(uint32_t slots) {
  static std::atomic<int> counter{0};
  PoolMetadata md;
  md.name = "queue";
  md.shape = {8};
  md.dtype = DType::kUInt8;
  md.history_len = slots;
  EXPECT_TRUE(complete_metadata(&md, PoolLimits{}).ok());
  md.shm_name = memory_label(
      "tipcq" + std::to_string(::getpid()) + "x" + std::to_string(counter++) + ".", md.name);
  auto m = PoolMapping::create(md, 0x51);
  EXPECT_TRUE(m.ok()) << m.status().message();
  return *m;
}

// A pool producing and announcing frames on its feed, as the registry does.
struct Announcing {
  explicit Announcing(uint32_t slots) : ring(ring_of(slots)) {}
  void put_and_announce(uint64_t first, uint64_t last) {
    for (uint64_t s = first; s <= last; ++s) write_frame(*ring, s, nullptr);
    feed->announce(last);
  }
  std::shared_ptr<PoolMapping> ring;
  std::shared_ptr<FrameFeed> feed = std::make_shared<FrameFeed>(ring, 0);
};

// Counts its wake-ups, and tells its queue (if any), as an outbox does.
class CountingWaiter final : public FrameFeed::Waiter {
 public:
  explicit CountingWaiter(EventQueue* queue = nullptr) : queue_(queue) {}
  void frames_announced() override {
    ++woken;
    if (queue_) queue_->woken();
  }
  int woken = 0;

 private:
  EventQueue* queue_;
};

TEST(DaemonEventQueue, KeepLastDefaultsAndBounds) {
  EXPECT_EQ(*effective_keep_last(0), kDefaultKeepLast);
  EXPECT_EQ(*effective_keep_last(1), 1u);
  EXPECT_EQ(*effective_keep_last(kMaxKeepLast), kMaxKeepLast);
  auto too_many = effective_keep_last(kMaxKeepLast + 1);
  ASSERT_FALSE(too_many.ok());
  EXPECT_EQ(too_many.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(too_many.status().message().find("65536"), std::string::npos);
}

TEST(DaemonEventQueue, DropsOldestFrameAndCountsIt) {
  EventQueue q(2);
  for (uint64_t s = 1; s <= 5; ++s) q.push_frame({s, static_cast<uint32_t>(s % 4), 0});
  EXPECT_EQ(q.dropped(), 3u);
  EXPECT_EQ(q.overflowed(), 3u) << "all three because the queue was full";
  EXPECT_EQ(q.queued_frames(), 2u);
  EXPECT_EQ(drain(q), (std::vector<std::string>{"F4/3", "F5/3"}));
  EXPECT_TRUE(q.empty());
  EXPECT_EQ(q.queued_frames(), 0u);
}

// keep_last 65536 on a pool of 4 frames: the queue never holds more than 4
// frame events (the 100 subscribers x 65,536 events took 262 MB).
TEST(DaemonEventQueue, FrameEventsAreCappedAtTheRingsSize) {
  EventQueue q(65536);
  for (uint64_t s = 1; s <= 10; ++s) q.push_frame({s, s % 4, 0});
  EXPECT_EQ(q.queued_frames(), 10u) << "no ring known yet";
  q.cap_frames(4);  // attached to a pool of 4 frames: the oldest 6 go now
  EXPECT_EQ(q.queued_frames(), 4u);
  EXPECT_EQ(q.dropped(), 6u);
  EXPECT_EQ(q.overflowed(), 0u) << "dropped by the cap, not by a full queue";
  EXPECT_EQ(q.keep_last(), 4u);
  for (uint64_t s = 11; s <= 1000; ++s) q.push_frame({s, s % 4, 0});
  EXPECT_EQ(q.queued_frames(), 4u);
  EXPECT_EQ(q.dropped(), 996u);
  EXPECT_EQ(q.overflowed(), 990u);
  StreamEvent ev;
  ASSERT_TRUE(q.pop(&ev));
  EXPECT_EQ(ev.frame.seq, 997u) << "the newest 4 are kept";
  q.cap_frames(0);  // no ring (removed): keep_last again, up to the daemon's ceiling
  EXPECT_EQ(q.keep_last(), kMaxQueuedFrames);
  EventQueue small(2);
  small.cap_frames(16);
  EXPECT_EQ(small.keep_last(), 2u) << "a smaller keep_last stays";
}

// keep_last 65536 on a ring of 65536: the daemon still queues no more than
// kMaxQueuedFrames events (the client fills gaps from the ring).
TEST(DaemonEventQueue, FrameEventsAreCappedAtTheDaemonsCeiling) {
  EventQueue q(65536);
  q.cap_frames(65536);
  EXPECT_EQ(q.keep_last(), kMaxQueuedFrames);
  for (uint64_t s = 1; s <= 5000; ++s) q.push_frame({s, s % 65536, 0});
  EXPECT_EQ(q.queued_frames(), kMaxQueuedFrames);
  EXPECT_EQ(q.dropped(), 5000u - kMaxQueuedFrames);
  StreamEvent ev;
  ASSERT_TRUE(q.pop(&ev));
  EXPECT_EQ(ev.frame.seq, 5000u - kMaxQueuedFrames + 1) << "the newest are kept";
}

// What makes a stream ask for lagging turns at the write gate: its own queue
// overflowing, not frames the daemon announced late or the ring's cap.
TEST(DaemonEventQueue, FellBehindOnlyWhenItsQueueOverflowedSinceItLastAsked) {
  EventQueue q(2);
  EXPECT_FALSE(q.fell_behind());
  q.push_frame({1, 0, 0});
  q.push_frame({2, 1, 0});
  EXPECT_FALSE(q.fell_behind()) << "full, not overflowed";
  q.cap_frames(1);  // a ring of one frame: the oldest goes
  EXPECT_EQ(q.dropped(), 1u);
  EXPECT_FALSE(q.fell_behind()) << "not the subscriber's doing";
  q.cap_frames(0);
  q.push_frame({3, 0, 0});
  q.push_frame({4, 1, 0});  // keep_last 2: frame 2 overflows
  EXPECT_TRUE(q.fell_behind());
  EXPECT_FALSE(q.fell_behind()) << "nothing overflowed since it asked";
}

TEST(DaemonEventQueue, LifecycleEventsAreNeverDroppedAndKeepTheirPlace) {
  EventQueue q(2);
  q.push_frame({1, 0, 0});
  ASSERT_TRUE(q.push_lifecycle(removed("a")));
  q.push_frame({2, 0, 0});
  q.push_frame({3, 0, 0});  // drops frame 1; "a" stays first
  ASSERT_TRUE(q.push_lifecycle(removed("b")));
  q.push_frame({4, 0, 0});  // drops frame 2
  EXPECT_EQ(drain(q), (std::vector<std::string>{"La/2", "F3/2", "Lb/2", "F4/2"}));
}

// The queue's buffer wraps round and grows while events come and go: order,
// drops and lifecycle events' places hold across both.
TEST(DaemonEventQueue, OrderHoldsAsTheBufferWrapsAndGrows) {
  EventQueue q(3);
  std::vector<std::string> got;
  auto pop_one = [&] {
    StreamEvent ev;
    ASSERT_TRUE(q.pop(&ev));
    got.push_back(ev.is_frame() ? "F" + std::to_string(ev.frame.seq)
                                : "L" + ev.lifecycle->reason);
  };
  // Round and round a small buffer: three frames kept, one popped per push.
  for (uint64_t s = 1; s <= 40; ++s) {
    q.push_frame({s, s % 4, 0});
    if (s % 2 == 0) pop_one();
  }
  // Lifecycle events between frames, more than the buffer held: it grows
  // with entries wrapped round its end, and drops erase from its middle.
  for (int i = 0; i < 12; ++i) {
    ASSERT_TRUE(q.push_lifecycle(removed(std::to_string(i))));
    q.push_frame({41u + static_cast<uint64_t>(i), 0, 0});
  }
  while (!q.empty()) pop_one();
  // The first loop popped frames 1 and 2, then (keep_last 3, one dropped
  // every second push from push 6 on) 4, 6, ..., 38; 39 and 40 stayed. The
  // second kept every lifecycle event, in its place, and the last three
  // frames: 39 to 49 were dropped.
  std::vector<std::string> want{"F1", "F2"};
  for (int s = 4; s <= 38; s += 2) want.push_back("F" + std::to_string(s));
  for (const char* e : {"L0", "L1", "L2", "L3", "L4", "L5", "L6", "L7", "L8", "L9", "F50", "L10",
                        "F51", "L11", "F52"}) {
    want.push_back(e);
  }
  EXPECT_EQ(got, want);
  EXPECT_EQ(q.dropped(), 29u);  // 3, 5, ..., 37 and 39 to 49
  EXPECT_EQ(q.overflowed(), 29u);
}

TEST(DaemonEventQueue, DroppedIsStampedAsOfEachPop) {
  EventQueue q(1);
  q.push_frame({1, 0, 0});
  StreamEvent ev;
  ASSERT_TRUE(q.pop(&ev));
  EXPECT_EQ(ev.dropped, 0u);
  q.push_frame({2, 0, 0});
  q.push_frame({3, 0, 0});
  ASSERT_TRUE(q.pop(&ev));
  EXPECT_EQ(ev.frame.seq, 3u);
  EXPECT_EQ(ev.dropped, 1u);
  EXPECT_FALSE(q.pop(&ev));
}

TEST(DaemonEventQueue, LifecycleBacklogIsBounded) {
  EventQueue q(1);
  for (size_t i = 0; i < kMaxLifecycleBacklog; ++i) ASSERT_TRUE(q.push_lifecycle(removed("x")));
  EXPECT_FALSE(q.push_lifecycle(removed("one too many")));
  StreamEvent ev;
  ASSERT_TRUE(q.pop(&ev));
  EXPECT_TRUE(q.push_lifecycle(removed("room again")));
}

TEST(DaemonRateMeter, CountsEventsOverTheRecentWindow) {
  RateMeter m;
  const int64_t t0 = 1'000'000'000'000;
  EXPECT_EQ(m.rate_hz(t0), 0.0);
  for (int i = 0; i < 100; ++i) m.record(t0 + int64_t{i} * 10'000'000);  // 100 Hz for 1 s
  EXPECT_NEAR(m.rate_hz(t0 + 1'000'000'000), 100.0, 15.0);
  EXPECT_EQ(m.rate_hz(t0 + 10'000'000'000), 0.0);  // long silent: nothing in the window
}

// Frames are taken from the pool's feed as they are popped: the newest
// keep_last of those announced, the older counted as overflowed (the
// subscriber was busy, not waiting).
TEST(DaemonEventQueue, FramesComeFromTheFeedAsTheyArePopped) {
  Announcing pool(8);
  EventQueue q(3);
  q.follow(pool.feed, 0);
  q.cap_frames(8);
  EXPECT_TRUE(q.empty());
  pool.put_and_announce(1, 2);
  EXPECT_FALSE(q.empty());
  EXPECT_EQ(q.queued_frames(), 2u);
  EXPECT_EQ(drain(q), (std::vector<std::string>{"F1/0", "F2/0"}));
  pool.put_and_announce(3, 8);
  EXPECT_EQ(q.queued_frames(), 3u);
  EXPECT_EQ(q.dropped(), 3u) << "counted before it pops";
  EXPECT_TRUE(q.fell_behind());
  EXPECT_EQ(drain(q), (std::vector<std::string>{"F6/3", "F7/3", "F8/3"}));
  EXPECT_EQ(q.overflowed(), 3u);
  StreamEvent ev;
  EXPECT_FALSE(q.pop(&ev));
  pool.put_and_announce(9, 9);
  ASSERT_TRUE(q.pop(&ev));
  EXPECT_EQ(ev.frame.seq, 9u);
  EXPECT_EQ(ev.frame.slot, 1u);
  EXPECT_GT(ev.frame.timestamp_ns, 0) << "the stamp, read from the ring";
}

// A queue with nothing to pop waits on the feed: the next announce wakes it
// once. What piles up beyond keep_last before it pops was the daemon's
// lateness, not the subscriber's: dropped, not overflowed.
TEST(DaemonEventQueue, AWaitingQueueIsWokenOnceAndItsBacklogIsNotOverflow) {
  Announcing pool(8);
  EventQueue q(2);
  auto waiter = std::make_shared<CountingWaiter>(&q);
  EXPECT_TRUE(q.wait_for_frames(waiter)) << "no feed yet: nothing to wait on";
  q.follow(pool.feed, 0);
  ASSERT_TRUE(q.wait_for_frames(waiter));
  pool.put_and_announce(1, 5);
  EXPECT_EQ(waiter->woken, 1);
  pool.put_and_announce(6, 6);
  EXPECT_EQ(waiter->woken, 1) << "woken once per wait";
  EXPECT_FALSE(q.wait_for_frames(waiter)) << "frames to pop: no wait";
  EXPECT_FALSE(q.fell_behind());
  EXPECT_EQ(drain(q), (std::vector<std::string>{"F5/4", "F6/4"}));
  EXPECT_EQ(q.overflowed(), 0u);
  ASSERT_TRUE(q.wait_for_frames(waiter));
  waiter.reset();
  pool.put_and_announce(7, 7);  // a waiter gone by then is skipped
  EXPECT_EQ(drain(q), (std::vector<std::string>{"F7/4"}));
  pool.put_and_announce(8, 12);  // not waiting (it has not asked again): its overflow
  EXPECT_TRUE(q.fell_behind());
  EXPECT_EQ(q.overflowed(), 3u);
}

// A lifecycle event goes after every frame announced before it, and a new
// feed's frames after the old one's: the order a subscriber sees holds
// across a producer's departure and a pool replaced.
TEST(DaemonEventQueue, LifecycleEventsAndNewFeedsKeepTheirPlaceAmongTheFrames) {
  Announcing old_pool(4);
  Announcing new_pool(4);
  EventQueue q(8);
  q.follow(old_pool.feed, 0);
  old_pool.put_and_announce(1, 2);
  ASSERT_TRUE(q.push_lifecycle(gone("gone")));
  old_pool.put_and_announce(3, 3);  // gone, not removed: still its feed
  new_pool.put_and_announce(1, 5);  // before the subscriber follows it: known to it
  q.follow(new_pool.feed, 5);
  ASSERT_TRUE(q.push_lifecycle(gone("attached")));
  new_pool.put_and_announce(6, 7);
  EXPECT_EQ(drain(q), (std::vector<std::string>{"F1/0", "F2/0", "Lgone/0", "F3/0",
                                                "Lattached/0", "F6/0", "F7/0"}));
  // Frames queued ahead of a lifecycle event count toward keep_last with
  // those announced after it: the oldest go first.
  EventQueue q3(3);
  q3.follow(new_pool.feed, 7);
  new_pool.put_and_announce(8, 9);
  ASSERT_TRUE(q3.push_lifecycle(gone("x")));
  new_pool.put_and_announce(10, 11);
  EXPECT_EQ(q3.queued_frames(), 3u);
  EXPECT_EQ(drain(q3), (std::vector<std::string>{"F9/1", "Lx/1", "F10/1", "F11/1"}));
  // A removed pool announces nothing more: the queue lets go of its feed
  // (and so of its memory) after the frames announced before it.
  new_pool.put_and_announce(12, 12);
  ASSERT_TRUE(q3.push_lifecycle(removed("r")));
  ASSERT_TRUE(q.push_lifecycle(removed("r")));
  std::weak_ptr<FrameFeed> feed = new_pool.feed;
  new_pool.feed.reset();
  EXPECT_TRUE(feed.expired());
  EXPECT_EQ(drain(q3), (std::vector<std::string>{"F12/1", "Lr/1"}));
}

// Frames the ring lost before the subscriber took them: the daemon's
// lateness when they were gone by its first look after waiting for frames,
// its own (overflowed: it falls behind) when they went while it waited for
// a turn or wrote.
TEST(DaemonEventQueue, FramesTheRingLostCountAsOverflowOnlyAfterItsFirstLook) {
  Announcing pool(4);
  EventQueue q(4);
  q.follow(pool.feed, 0);
  q.cap_frames(4);
  auto waiter = std::make_shared<CountingWaiter>(&q);
  ASSERT_TRUE(q.wait_for_frames(waiter));
  pool.put_and_announce(1, 2);
  for (uint64_t s = 3; s <= 5; ++s) write_frame(*pool.ring, s, nullptr);  // 1 is gone
  EXPECT_EQ(drain(q), (std::vector<std::string>{"F2/1"}));
  EXPECT_EQ(q.overflowed(), 0u) << "gone before its first look: the daemon was late";
  EXPECT_FALSE(q.fell_behind());

  ASSERT_TRUE(q.wait_for_frames(waiter));
  pool.put_and_announce(6, 6);
  EXPECT_FALSE(q.fell_behind()) << "its first look: 3 to 6 are all there";
  for (uint64_t s = 7; s <= 8; ++s) write_frame(*pool.ring, s, nullptr);  // 3 and 4 go
  EXPECT_EQ(drain(q), (std::vector<std::string>{"F5/3", "F6/3"}));
  EXPECT_EQ(q.overflowed(), 2u) << "lost while it waited for its turn: its own";
  EXPECT_TRUE(q.fell_behind());
}

// A pool whose producer publishes nothing, and subscribers that come and go
// (each registered to wait for a frame): the feed forgets the gone ones
// rather than piling up an entry, and its outbox's memory, for each.
TEST(DaemonFrameFeed, WaitersGoneBeforeAnyAnnounceAreForgotten) {
  Announcing pool(4);
  auto stays = std::make_shared<CountingWaiter>();
  ASSERT_TRUE(pool.feed->wait(stays, 0));
  for (int i = 0; i < 10000; ++i) {
    auto passing = std::make_shared<CountingWaiter>();
    ASSERT_TRUE(pool.feed->wait(passing, 0));
  }
  EXPECT_LE(pool.feed->waiting(), 128u);
  pool.put_and_announce(1, 1);
  EXPECT_EQ(stays->woken, 1) << "the one still there is woken";
  EXPECT_EQ(pool.feed->waiting(), 0u);
  EXPECT_FALSE(pool.feed->wait(stays, 0)) << "frame 1 is news to it: no wait";
}

// An outbox's part in the wake-ups, minus gRPC: a queue under a mutex with
// one write in flight at most, written by a thread of its own (gRPC's, in
// the daemon); the next write starts when one ends, or when the feed wakes
// it after it found nothing and waited.
class WritingSubscriber final : public FrameFeed::Waiter,
                                public std::enable_shared_from_this<WritingSubscriber> {
 public:
  explicit WritingSubscriber(std::shared_ptr<FrameFeed> feed) : queue_(8) {
    queue_.follow(std::move(feed), 0);
  }
  ~WritingSubscriber() override { stop(); }
  void start() {
    writer_ = std::thread([this] { run(); });
    std::lock_guard<std::mutex> lock(mu_);
    write_next();
  }
  void stop() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      stop_ = true;
    }
    cv_.notify_all();
    if (writer_.joinable()) writer_.join();
  }
  void frames_announced() override {
    std::lock_guard<std::mutex> lock(mu_);
    queue_.woken();
    write_next();
  }
  std::atomic<uint64_t> delivered{0};  // the seq of the last write that ended

 private:
  void write_next() {  // mu_ held
    for (;;) {
      if (writing_) return;
      StreamEvent ev;
      if (queue_.pop(&ev)) {
        writing_ = true;
        in_flight_ = ev.frame.seq;
        cv_.notify_all();
        return;
      }
      if (queue_.wait_for_frames(weak_from_this())) return;
    }
  }
  void run() {
    std::unique_lock<std::mutex> lock(mu_);
    for (;;) {
      cv_.wait(lock, [&] { return stop_ || writing_; });
      if (stop_) return;
      const uint64_t seq = in_flight_;
      lock.unlock();
      delivered.store(seq);  // the write ended: the next announce may come now
      lock.lock();
      writing_ = false;
      write_next();  // what OnWriteDone does, racing that announce
    }
  }
  std::mutex mu_;
  std::condition_variable cv_;
  EventQueue queue_;
  bool writing_ = false;
  bool stop_ = false;
  uint64_t in_flight_ = 0;
  std::thread writer_;
};

// Each frame is announced as soon as every subscriber's write of the one
// before ended, so their threads go back to the feed (take, or wait) just as
// the announce comes: whichever wins, each must get the frame. A wake-up
// lost in that race would leave a subscriber behind for good. Under TSan too.
TEST(DaemonFrameFeed, NoWakeUpIsLostBetweenAWaitAndAnAnnounce) {
  Announcing pool(64);
  std::vector<std::shared_ptr<WritingSubscriber>> subs;
  for (int i = 0; i < 3; ++i) {
    subs.push_back(std::make_shared<WritingSubscriber>(pool.feed));
    subs.back()->start();
  }
  constexpr uint64_t kFrames = 3000;
  for (uint64_t seq = 1; seq <= kFrames; ++seq) {
    pool.put_and_announce(seq, seq);
    // Spun for, not slept for: the next announce must come at once.
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
    for (const auto& sub : subs) {
      while (sub->delivered.load() != seq) {
        ASSERT_LT(std::chrono::steady_clock::now(), deadline)
            << "frame " << seq << " never reached a subscriber (last " << sub->delivered.load()
            << ")";
        std::this_thread::yield();
      }
    }
  }
  for (auto& sub : subs) sub->stop();
}

}  // namespace
}  // namespace tensoripc::daemon
