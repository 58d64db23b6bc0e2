// The per-subscriber queue: frame events bounded by keep_last with the oldest
// dropped and counted, lifecycle events never dropped, order kept.
#include "daemon/event_queue.h"

#include <gtest/gtest.h>

#include <memory>
#include <vector>

#include "daemon/rate_meter.h"

namespace tensoripc::daemon {
namespace {

std::shared_ptr<const PoolEvent> removed(const std::string& why) {
  auto ev = std::make_shared<PoolEvent>();
  ev->kind = PoolEvent::Kind::kRemoved;
  ev->reason = why;
  return ev;
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
  q.count_dropped(5);  // announced late by the daemon: dropped, not overflowed
  EXPECT_EQ(q.dropped(), 1001u);
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
  q.count_dropped(7);  // the daemon announced late
  q.cap_frames(1);     // a ring of one frame: the oldest goes
  EXPECT_EQ(q.dropped(), 8u);
  EXPECT_FALSE(q.fell_behind()) << "neither is the subscriber's doing";
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

}  // namespace
}  // namespace tensoripc::daemon
