// The registry's subscribers, driven directly (no gRPC): frames learnt from
// the pool itself and fanned out, the order of events, drops and their
// account, the futex waiter count, and a GPU pool's device memory handed out.
#include <gtest/gtest.h>

#include <algorithm>
#include <limits>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "common/futex.h"
#include "pool/cuda_memory.h"
#include "tests/daemon/registry_fixture.h"
#include "tests/support/child_process.h"
#include "tests/support/gpu_claim.h"

namespace tensoripc::daemon {
namespace {

TEST_F(DaemonRegistry, FramesAreAnnouncedFromThePoolItself) {
  Registry reg(options_);
  auto frames = std::make_shared<RecordingSink>();
  auto lifecycle_only = std::make_shared<RecordingSink>();
  ASSERT_TRUE(reg.subscribe("cam", caller(1), frames).ok());
  ASSERT_TRUE(reg.subscribe("cam", caller(2), lifecycle_only, /*frames=*/false).ok());
  auto a = std::make_shared<RecordingHolder>();
  auto granted = claim(reg, claim_of("cam"), a);
  ASSERT_TRUE(granted.ok());
  EXPECT_EQ(granted->memory->header().futex_waiters.load(), 2u) << "both may sleep on the word";

  std::vector<std::string> seen = frames->take();
  for (uint64_t seq = 1; seq <= 3; ++seq) {
    write_frame(*a->memory, seq, nullptr);
    const std::string want = "frame(" + std::to_string(seq) + ")";
    ASSERT_TRUE(testing::eventually([&] {
      for (auto& e : frames->take()) seen.push_back(e);
      return std::find(seen.begin(), seen.end(), want) != seen.end();
    })) << "the watcher never announced frame " << seq;
  }
  EXPECT_EQ(seen, (std::vector<std::string>{"waiting", "attached(4242)", "frame(1)", "frame(2)",
                                            "frame(3)"}));
  EXPECT_EQ(lifecycle_only->take(), (std::vector<std::string>{"waiting", "attached(4242)"}));

  auto info = reg.get("cam");
  ASSERT_TRUE(info.ok());
  EXPECT_EQ(info->stats.latest_seq, 3u);
  EXPECT_EQ(info->stats.frames_published, 3u);
  ASSERT_EQ(info->stats.subscriber.size(), 2u);
  for (const auto& sub : info->stats.subscriber) EXPECT_EQ(sub.lifecycle_only, sub.pid == 2);
}

// A pool with more frame subscribers than one fan-out should hold a watcher
// thread for is announced on the bulk fan-out thread; every subscriber still
// gets every frame, in order, and a small pool beside it is announced as
// before. (Run under TSan too: the per-pool locks and the hand-off.)
TEST_F(DaemonRegistry, ABigPoolIsAnnouncedOnTheBulkThreadAndASmallOneBesideIt) {
  Registry reg(options_);
  std::vector<std::shared_ptr<RecordingSink>> many;
  for (int i = 0; i < 100; ++i) {
    many.push_back(std::make_shared<RecordingSink>());
    ASSERT_TRUE(reg.subscribe("big", caller(100 + i), many.back()).ok());
  }
  auto one = std::make_shared<RecordingSink>();
  ASSERT_TRUE(reg.subscribe("small", caller(7), one).ok());
  auto big = std::make_shared<RecordingHolder>();
  auto small = std::make_shared<RecordingHolder>();
  ASSERT_TRUE(claim(reg, claim_of("big", {4, 3}, "float32", 64), big).ok());
  ASSERT_TRUE(claim(reg, claim_of("small", {4, 3}, "float32", 64, 77), small).ok());
  for (uint64_t seq = 1; seq <= 20; ++seq) {
    write_frame(*big->memory, seq, nullptr);
    write_frame(*small->memory, seq, nullptr);
  }
  std::vector<std::string> want{"waiting", "attached(4242)"};
  for (uint64_t seq = 1; seq <= 20; ++seq) want.push_back("frame(" + std::to_string(seq) + ")");
  std::vector<std::vector<std::string>> seen(many.size());
  ASSERT_TRUE(testing::eventually([&] {
    bool all = true;
    for (size_t i = 0; i < many.size(); ++i) {
      for (auto& e : many[i]->take()) seen[i].push_back(e);
      all = all && seen[i].size() >= want.size();
    }
    return all;
  })) << "a subscriber of the big pool missed frames";
  for (const auto& s : seen) EXPECT_EQ(s, want);
  std::vector<std::string> small_seen;
  ASSERT_TRUE(testing::eventually([&] {
    for (auto& e : one->take()) small_seen.push_back(e);
    return small_seen.size() >= want.size();
  }));
  want[1] = "attached(77)";
  EXPECT_EQ(small_seen, want);
  reg.release(big.get());
  reg.release(small.get());
}

// A producer may lap the daemon (frames overwritten before it looked): those
// are counted as dropped for each subscriber, never announced with a stamp
// that is not theirs. Whatever the outcome of the race with the watcher's
// thread, every frame is announced once or counted.
TEST_F(DaemonRegistry, FramesOverwrittenBeforeTheDaemonLookedAreCountedNotAnnounced) {
  Registry reg(options_);
  auto sink = std::make_shared<RecordingSink>(1000);
  ASSERT_TRUE(reg.subscribe("cam", caller(1), sink).ok());
  auto a = std::make_shared<RecordingHolder>();
  ASSERT_TRUE(claim(reg, claim_of("cam", {4, 3}, "float32", 4), a).ok());
  for (uint64_t seq = 1; seq <= 50; ++seq) write_frame(*a->memory, seq, nullptr);
  reg.announce_all();
  std::vector<uint64_t> seqs;
  for (const std::string& e : sink->take()) {
    if (e.rfind("frame(", 0) == 0) seqs.push_back(std::stoull(e.substr(6)));
  }
  ASSERT_FALSE(seqs.empty());
  EXPECT_TRUE(std::is_sorted(seqs.begin(), seqs.end()));
  EXPECT_EQ(std::adjacent_find(seqs.begin(), seqs.end()), seqs.end()) << "none twice";
  EXPECT_EQ(seqs.back(), 50u);
  for (uint64_t seq = 47; seq <= 50; ++seq) {
    EXPECT_NE(std::find(seqs.begin(), seqs.end(), seq), seqs.end()) << seq << " is in the ring";
  }
  EXPECT_EQ(seqs.size() + sink->stats().dropped, 50u);
}

// A subscriber learns its drop total from the events written after the
// drops, so the frames the ring lost before it read them must be counted in
// the next frame's event: the frames may be the last events it ever gets.
// (Seen as two frames missing from a stream consumer's account under ASan.)
// The header's waiter count is lowered for the writes, so that the watcher's
// thread stays asleep and the test's one announce does it all.
TEST_F(DaemonRegistry, AFrameEventCarriesTheDropsBeforeIt) {
  Registry reg(options_);
  auto a = std::make_shared<RecordingHolder>();
  ASSERT_TRUE(claim(reg, claim_of("cam", {4, 3}, "float32", 4), a).ok());
  auto sink = std::make_shared<RecordingSink>(1000);
  ASSERT_TRUE(reg.subscribe("cam", caller(1), sink).ok());
  PoolHeader& h = a->memory->header();
  h.futex_waiters.store(0);
  for (uint64_t seq = 1; seq <= 10; ++seq) write_frame(*a->memory, seq, nullptr);
  reg.announce_all();
  h.futex_waiters.store(1);
  using Frames = std::vector<std::pair<uint64_t, uint64_t>>;
  EXPECT_EQ(sink->take_frames(), (Frames{{7, 6}, {8, 6}, {9, 6}, {10, 6}}));
  // 11 and 12 announced; 13-15 written before the subscriber takes them, so
  // 11's slot holds 15 by then: counted, and carried by 12's event.
  h.futex_waiters.store(0);
  for (uint64_t seq = 11; seq <= 12; ++seq) write_frame(*a->memory, seq, nullptr);
  reg.announce_all();
  for (uint64_t seq = 13; seq <= 15; ++seq) write_frame(*a->memory, seq, nullptr);
  Frames taken = sink->take_frames();
  reg.announce_all();
  h.futex_waiters.store(1);
  for (const auto& f : sink->take_frames()) taken.push_back(f);
  EXPECT_EQ(taken, (Frames{{12, 7}, {13, 7}, {14, 7}, {15, 7}}));
  EXPECT_EQ(sink->stats().dropped, 7u);
}

// latest_seq is the producer's to write, so a producer can write anything
// there. The daemon's work stays bounded by the ring's size, it announces no
// frame the ring does not hold, and other pools go on unharmed; the owner can
// delete the spoilt pool and start afresh.
TEST_F(DaemonRegistry, AProducerLyingInItsHeaderSpoilsOnlyItsOwnPool) {
  Registry reg(options_);
  auto sink = std::make_shared<RecordingSink>();
  auto other_sink = std::make_shared<RecordingSink>();
  ASSERT_TRUE(reg.subscribe("cam", caller(1), sink).ok());
  ASSERT_TRUE(reg.subscribe("other", caller(1), other_sink).ok());
  auto liar = std::make_shared<RecordingHolder>();
  auto honest = std::make_shared<RecordingHolder>();
  ASSERT_TRUE(claim(reg, claim_of("cam"), liar).ok());
  ASSERT_TRUE(claim(reg, claim_of("other", {4, 3}, "float32", 4, 77), honest).ok());
  put(reg, *liar, 1);
  EXPECT_EQ(sink->take(), (std::vector<std::string>{"waiting", "attached(4242)", "frame(1)"}));
  PoolHeader& h = liar->memory->header();
  for (uint64_t lie : {uint64_t{1000}, std::numeric_limits<uint64_t>::max() - 1,
                       std::numeric_limits<uint64_t>::max()}) {
    h.latest_seq.store(lie);
    futex_signal(h.futex_word, h.futex_waiters);
    reg.announce_all();  // returns: no walk over 2^64 sequence numbers
    EXPECT_EQ(sink->take(), std::vector<std::string>{})  // nor a walk when it is taken
        << "no event for a frame the ring does not hold";
  }
  put(reg, *honest, 1);
  EXPECT_EQ(other_sink->take(), (std::vector<std::string>{"waiting", "attached(77)", "frame(1)"}));

  ASSERT_TRUE(reg.remove("cam", true, caller(4242)).ok());
  auto fresh = std::make_shared<RecordingHolder>();
  auto again = claim(reg, claim_of("cam"), fresh);
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->latest_seq, 0u) << "a new pool";
  put(reg, *fresh, 1);
  EXPECT_EQ(sink->take(),
            (std::vector<std::string>{"gone(4242,not kept)", "removed", "attached(4242)",
                                      "frame(1)"}));
}

TEST_F(DaemonRegistry, SubscribersSeeEventsInOrder) {
  Registry reg(options_);
  auto early = std::make_shared<RecordingSink>();
  ASSERT_TRUE(reg.subscribe("cam", caller(10), early).ok());
  auto a = std::make_shared<RecordingHolder>();
  ASSERT_TRUE(claim(reg, claim_of("cam"), a).ok());
  for (uint64_t s = 1; s <= 3; ++s) put(reg, *a, s);
  auto late = std::make_shared<RecordingSink>();
  ASSERT_TRUE(reg.subscribe("cam", caller(11), late).ok());
  put(reg, *a, 4);
  reg.release(a.get());
  auto b = std::make_shared<RecordingHolder>();
  ASSERT_TRUE(claim(reg, claim_of("cam", {4, 3}, "float32", 4, 5000), b).ok());
  ASSERT_TRUE(reg.remove("cam", true, caller(4242)).ok());
  EXPECT_EQ(early->take(),
            (std::vector<std::string>{"waiting", "attached(4242)", "frame(1)", "frame(2)",
                                      "frame(3)", "frame(4)", "gone(4242,kept)", "attached(5000)",
                                      "gone(5000,not kept)", "removed"}));
  EXPECT_EQ(late->take(),
            (std::vector<std::string>{"attached(4242)", "frame(4)", "gone(4242,kept)",
                                      "attached(5000)", "gone(5000,not kept)", "removed"}));
  EXPECT_TRUE(reg.subscribe("../x", caller(1), std::make_shared<RecordingSink>()).code() ==
              StatusCode::kInvalidArgument);
}

// An attached event carries the daemon's mapping (the Subscribe stream turns
// it into a read-only descriptor for its subscriber).
TEST_F(DaemonRegistry, AttachedEventsCarryThePoolsMemory) {
  Registry reg(options_);
  auto sink = std::make_shared<RecordingSink>();
  ASSERT_TRUE(reg.subscribe("cam", caller(1), sink).ok());
  EXPECT_TRUE(sink->attached_memory.expired()) << "waiting: no memory yet";
  auto a = std::make_shared<RecordingHolder>();
  auto granted = claim(reg, claim_of("cam"), a);
  ASSERT_TRUE(granted.ok());
  EXPECT_EQ(sink->attached_memory.lock(), granted->memory);
  auto late = std::make_shared<RecordingSink>();
  ASSERT_TRUE(reg.subscribe("cam", caller(2), late).ok());
  EXPECT_EQ(late->attached_memory.lock(), granted->memory);

  reg.release(a.get());
  auto b = std::make_shared<RecordingHolder>();
  auto replaced = claim(reg, claim_of("cam", {8}, "uint8", 2, 51), b);
  ASSERT_TRUE(replaced.ok());
  EXPECT_EQ(sink->attached_memory.lock(), replaced->memory);
  EXPECT_NE(replaced->memory, granted->memory);
}

TEST_F(DaemonRegistry, DropsAreCountedPerSubscriberAndInTotal) {
  Registry reg(options_);
  auto slow = std::make_shared<RecordingSink>(2);
  auto fast = std::make_shared<RecordingSink>(100);
  ASSERT_TRUE(reg.subscribe("cam", caller(21), slow).ok());
  ASSERT_TRUE(reg.subscribe("cam", caller(22), fast).ok());
  auto a = std::make_shared<RecordingHolder>();
  ASSERT_TRUE(claim(reg, claim_of("cam"), a).ok());
  for (uint64_t s = 1; s <= 10; ++s) put(reg, *a, s);

  auto info = reg.get("cam");
  ASSERT_TRUE(info.ok());
  EXPECT_EQ(info->stats.subscribers, 2u);
  EXPECT_EQ(info->stats.dropped, 8u + 6u);
  ASSERT_EQ(info->stats.subscriber.size(), 2);
  for (const auto& s : info->stats.subscriber) {
    if (s.pid == 21) {
      EXPECT_EQ(s.keep_last, 2u);
      EXPECT_EQ(s.dropped, 8u);
      EXPECT_EQ(s.queued, 2u);
    } else {
      // keep_last 100, but the ring holds 4: events for older frames name
      // frames no one can read any more, so the queue keeps 4.
      EXPECT_EQ(s.pid, 22);
      EXPECT_EQ(s.keep_last, 4u);
      EXPECT_EQ(s.dropped, 6u);
      EXPECT_EQ(s.queued, 4u);
    }
  }
  reg.unsubscribe(slow.get());
  reg.unsubscribe(slow.get());  // idempotent
  info = reg.get("cam");
  EXPECT_EQ(info->stats.subscribers, 1u);
  EXPECT_EQ(info->stats.dropped, 8u + 6u);  // drops of a subscriber that left still count
  EXPECT_EQ(info->stats.frames_published, 10u);
  EXPECT_GT(info->stats.rate_hz, 0.0);
  EXPECT_GT(info->stats.last_publish_unix_ns, 0);
  EXPECT_GT(info->stats.created_unix_ns, 0);
}

// Consumers map the pool read-only and cannot count themselves as futex
// waiters: the registry keeps the header's futex_waiters at the number of
// subscribers, so the producer wakes them.
TEST_F(DaemonRegistry, FutexWaitersCountTheSubscribers) {
  Registry reg(options_);
  auto s1 = std::make_shared<RecordingSink>();
  auto s2 = std::make_shared<RecordingSink>();
  ASSERT_TRUE(reg.subscribe("cam", caller(1), s1).ok());  // waiting: no pool yet
  ASSERT_TRUE(reg.subscribe("cam", caller(2), s2).ok());
  auto other = std::make_shared<RecordingSink>();
  ASSERT_TRUE(reg.subscribe("other", caller(3), other).ok());

  auto a = std::make_shared<RecordingHolder>();
  auto first = claim(reg, claim_of("cam"), a);
  ASSERT_TRUE(first.ok());
  const PoolHeader& h = first->memory->header();
  EXPECT_EQ(h.futex_waiters.load(), 2u) << "raised for subscribers that were waiting";

  auto s3 = std::make_shared<RecordingSink>();
  ASSERT_TRUE(reg.subscribe("cam", caller(4), s3).ok());
  EXPECT_EQ(h.futex_waiters.load(), 3u);
  reg.unsubscribe(s3.get());
  reg.unsubscribe(other.get());  // another pool's subscriber
  EXPECT_EQ(h.futex_waiters.load(), 2u);
  reg.unsubscribe(s1.get());
  reg.unsubscribe(s1.get());  // idempotent: counted once
  EXPECT_EQ(h.futex_waiters.load(), 1u);
  reg.unsubscribe(s2.get());
  EXPECT_EQ(h.futex_waiters.load(), 0u) << "no subscribers: publishes make no system call";

  // Subscribers waiting while a pool is replaced: the new pool's header
  // counts them from the start.
  ASSERT_TRUE(reg.subscribe("cam", caller(5), s1).ok());
  ASSERT_TRUE(reg.subscribe("cam", caller(6), s2).ok());
  EXPECT_EQ(h.futex_waiters.load(), 2u);
  reg.release(a.get());
  auto b = std::make_shared<RecordingHolder>();
  auto second = claim(reg, claim_of("cam", {16}, "uint8", 2, 51), b);
  ASSERT_TRUE(second.ok());
  ASSERT_NE(second->memory->identity(), first->memory->identity());
  EXPECT_EQ(second->memory->header().futex_waiters.load(), 2u);

  // And after a delete, for the pool created next.
  ASSERT_TRUE(reg.remove("cam", true, caller(51)).ok());
  auto c = std::make_shared<RecordingHolder>();
  auto third = claim(reg, claim_of("cam"), c);
  ASSERT_TRUE(third.ok());
  EXPECT_EQ(third->memory->header().futex_waiters.load(), 2u);
  reg.unsubscribe(s1.get());
  reg.unsubscribe(s2.get());
  EXPECT_EQ(third->memory->header().futex_waiters.load(), 0u);
}

TEST_F(DaemonRegistry, DeletingAHeldPoolNeedsForce) {
  Registry reg(options_);
  auto a = std::make_shared<RecordingHolder>();
  ASSERT_TRUE(claim(reg, claim_of("cam"), a).ok());
  Status s = reg.remove("cam", false, caller(4242));
  EXPECT_EQ(s.code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(s.message().find("pid 4242"), std::string::npos);
  EXPECT_EQ(segments().size(), 1u);
  EXPECT_TRUE(reg.remove("cam", true, caller(4242)).ok());
  ASSERT_TRUE(a->revoked.has_value());
  EXPECT_EQ(a->revoked->code(), StatusCode::kAborted);
  a->memory.reset();  // the revoked producer unmaps
  EXPECT_TRUE(segments().empty());
  EXPECT_EQ(reg.remove("cam", false, caller(4242)).code(), StatusCode::kNotFound);
  EXPECT_EQ(reg.remove("", false, caller(4242)).code(), StatusCode::kInvalidArgument);
  // The revoked holder's stream ending later is harmless.
  reg.release(a.get());
}

// ---- GPU pools: the daemon checks, stores and hands out the device memory

v1::ClaimPool gpu_claim(const std::string& name, char handle = '\x11') {
  v1::ClaimPool c = testing::gpu_claim_of(name, handle);
  c.set_pid(4242);
  return c;
}

TEST_F(DaemonRegistry, AGpuPoolsDeviceMemoryIsCheckedStoredAndHandedOut) {
  Registry reg(options_);
  auto sink = std::make_shared<RecordingSink>();
  ASSERT_TRUE(reg.subscribe("gpu", caller(1), sink).ok());

  // What the checks refuse creates nothing (the checks themselves:
  // tests/pool/cuda_memory_test.cc).
  v1::ClaimPool no_memory = gpu_claim("gpu");
  no_memory.clear_cuda();
  v1::ClaimPool short_handle = gpu_claim("gpu");
  short_handle.mutable_cuda()->set_memory_handle(std::string(63, 1));
  v1::ClaimPool unspecified = gpu_claim("gpu");
  unspecified.mutable_cuda()->set_sharing(v1::CudaMemory::CUDA_SHARING_UNSPECIFIED);
  v1::ClaimPool host_with_memory = gpu_claim("gpu");
  host_with_memory.mutable_metadata()->set_device("cpu");
  for (const v1::ClaimPool* bad : {&no_memory, &short_handle, &unspecified, &host_with_memory}) {
    auto holder = std::make_shared<RecordingHolder>();
    auto r = claim(reg, *bad, holder);
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument) << r.status().message();
  }
  EXPECT_TRUE(segments().empty());
  EXPECT_TRUE(reg.list().empty());

  auto a = std::make_shared<RecordingHolder>();
  auto granted = claim(reg, gpu_claim("gpu"), a);
  ASSERT_TRUE(granted.ok()) << granted.status().message();
  EXPECT_EQ(granted->layout.memory_kind, MemoryKind::kCuda);
  EXPECT_EQ(granted->layout.segment_size, granted->layout.data_offset)
      << "the frames are on the GPU, not in the host memory";
  // Every subscriber gets the memory with the attached event.
  EXPECT_EQ(sink->attached_cuda.memory_handle, std::string(64, '\x11'));
  EXPECT_EQ(sink->attached_cuda.event_handles.size(), 2u);
  EXPECT_EQ(sink->attached_cuda.device_uuid, std::string(16, '\x31'));
  auto late = std::make_shared<RecordingSink>();
  ASSERT_TRUE(reg.subscribe("gpu", caller(2), late).ok());
  EXPECT_EQ(late->attached_cuda.allocation_size, 2u << 20);
  // The queries show it, typed and mirrored into payload_json.
  auto info = reg.get("gpu");
  ASSERT_TRUE(info.ok());
  EXPECT_EQ(info->cuda.sharing, CudaMemory::Sharing::kLegacyIpc);
  EXPECT_EQ(info->cuda.slot_stride, 1024u);
  EXPECT_NE(info->metadata.payload_json.find("\"memory_handle\": \"" +
                                             to_hex(std::string(64, '\x11'))),
            std::string::npos)
      << info->metadata.payload_json;

  // The memory is its producer's: when it leaves, the pool goes (retention
  // keep or not), and a new producer brings a new allocation.
  reg.release(a.get());
  EXPECT_EQ(reg.get("gpu").status().code(), StatusCode::kNotFound);
  auto b = std::make_shared<RecordingHolder>();
  auto again = claim(reg, gpu_claim("gpu", '\x12'), b);
  ASSERT_TRUE(again.ok());
  EXPECT_FALSE(again->resumed);
  EXPECT_NE(again->layout.generation, granted->layout.generation) << "consumers remap";
  EXPECT_EQ(sink->attached_cuda.memory_handle, std::string(64, '\x12'));
  EXPECT_EQ(sink->take(), (std::vector<std::string>{"waiting", "attached(4242)",
                                                    "gone(4242,not kept)", "removed",
                                                    "attached(4242)"}));
}

}  // namespace
}  // namespace tensoripc::daemon
