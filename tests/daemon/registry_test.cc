// The registry's decisions, driven directly (no gRPC): claims, resume,
// replace, release, limits, validation, queries, shutdown and adoption, on
// real shared-memory segments under a private prefix.
#include "daemon/registry.h"

#include <gtest/gtest.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <memory>
#include <thread>
#include <vector>

#include "common/shm.h"
#include "daemon/event_queue.h"
#include "pool/layout.h"
#include "pool/model.h"
#include "proto/wire.h"

namespace tensoripc::daemon {
namespace {

// What a Subscribe stream would do with the events, minus the socket: a real
// EventQueue that the test drains.
class RecordingSink final : public EventSink {
 public:
  explicit RecordingSink(uint32_t keep_last = 64) : queue_(keep_last) {}
  void push_frame(const FrameStamp& f) override { queue_.push_frame(f); }
  void push_lifecycle(std::shared_ptr<const PoolEvent> ev) override {
    queue_.push_lifecycle(std::move(ev));
  }
  void close(const Status& s) override { closed = s; }
  SubscriberStats stats() const override {
    SubscriberStats s;
    s.keep_last = queue_.keep_last();
    s.dropped = queue_.dropped();
    s.queued = queue_.queued_frames();
    return s;
  }

  // "attached(pid)", "waiting", "frame(seq)", "gone(pid,kept)", "removed".
  std::vector<std::string> take() {
    std::vector<std::string> out;
    StreamEvent ev;
    while (queue_.pop(&ev)) {
      if (ev.is_frame()) {
        out.push_back("frame(" + std::to_string(ev.frame.seq) + ")");
        continue;
      }
      const PoolEvent& life = *ev.lifecycle;
      switch (life.kind) {
        case PoolEvent::Kind::kAttached:
          out.push_back("attached(" + std::to_string(life.producer_pid) + ")");
          break;
        case PoolEvent::Kind::kWaiting:
          out.push_back("waiting");
          break;
        case PoolEvent::Kind::kProducerGone:
          out.push_back("gone(" + std::to_string(life.producer_pid) + "," +
                        (life.pool_kept ? "kept" : "not kept") + ")");
          break;
        case PoolEvent::Kind::kRemoved:
          out.push_back("removed");
          break;
      }
    }
    return out;
  }

  std::optional<Status> closed;

 private:
  EventQueue queue_;
};

class RecordingHolder final : public LeaseHolder {
 public:
  void revoke(const Status& why) override { revoked = why; }
  std::optional<Status> revoked;
};

v1::ClaimPool claim_of(const std::string& name, std::vector<int64_t> shape = {4, 3},
                       const std::string& dtype = "float32", uint32_t history = 4,
                       int32_t pid = 4242) {
  v1::ClaimPool c;
  c.set_pid(pid);
  v1::PoolMetadata* md = c.mutable_metadata();
  md->set_name(name);
  for (int64_t d : shape) md->add_shape(d);
  md->set_dtype_str(dtype);
  md->set_history_len(history);
  return c;
}

FrameStamp notice(uint64_t seq, uint32_t history = 4) {
  return FrameStamp{seq, seq % history, 1000 + static_cast<int64_t>(seq)};
}

// A claim as it comes off the wire: the daemon reads it (proto/wire.h), then
// the registry decides. What the reading refuses is refused as a claim.
StatusOr<Grant> claim(Registry& reg, const v1::ClaimPool& c, std::shared_ptr<LeaseHolder> holder) {
  auto read = wire::from_proto(c);
  if (!read.ok()) return read.status();
  return reg.claim(*read, std::move(holder));
}

class DaemonRegistry : public ::testing::Test {
 protected:
  DaemonRegistry() {
    static std::atomic<int> n{0};
    options_.shm_prefix = "tipcu" + std::to_string(::getpid()) + "x" + std::to_string(n++) + ".";
    options_.shm_mode = 0600;
    spdlog::set_level(spdlog::level::warn);
  }
  ~DaemonRegistry() override {
    for (const auto& s : list_segments(options_.shm_prefix)) ShmFile::unlink(s);
  }

  std::vector<std::string> segments() const { return list_segments(options_.shm_prefix); }

  RegistryOptions options_;
};

TEST_F(DaemonRegistry, ClaimCreatesTheSegmentAndASecondClaimNamesTheHolder) {
  Registry reg(options_);
  auto a = std::make_shared<RecordingHolder>();
  auto granted = claim(reg, claim_of("cam"), a);
  ASSERT_TRUE(granted.ok()) << granted.status().message();
  EXPECT_FALSE(granted->resumed);
  EXPECT_EQ(granted->latest_seq, 0u);
  EXPECT_EQ(granted->metadata.shm_name, "/" + options_.shm_prefix + "cam");
  EXPECT_EQ(granted->metadata.creator_pid, 4242);
  EXPECT_EQ(granted->metadata.total_size, 4u * 3 * 4 * 4);
  EXPECT_NE(granted->layout.generation, 0u);
  EXPECT_EQ(segments(), std::vector<std::string>{"/" + options_.shm_prefix + "cam"});

  // The segment is real and valid, and records the lease holder.
  auto file = ShmFile::open(granted->layout.shm_name, false);
  ASSERT_TRUE(file.ok());
  auto map = Mapping::map(*file, 0, granted->layout.segment_size, Mapping::Access::kRead, false);
  ASSERT_TRUE(map.ok());
  EXPECT_TRUE(check_header(map->data(), map->size()).ok());
  EXPECT_EQ(header_of(map->data())->producer_pid.load(), 4242);

  auto b = std::make_shared<RecordingHolder>();
  auto second = claim(reg, claim_of("cam", {4, 3}, "float32", 4, 777), b);
  ASSERT_FALSE(second.ok());
  EXPECT_EQ(second.status().code(), StatusCode::kAlreadyExists);
  EXPECT_EQ(second.status().message(), "topic 'cam' is already published by pid 4242");
  EXPECT_EQ(second.status().holder_pid(), 4242) << "the pid travels as a field, not only as text";
}

TEST_F(DaemonRegistry, RacingClaimsOfANewPoolGrantExactlyOne) {
  // The segment is created outside the registry lock (128 MiB: tens of ms of
  // posix_fallocate); the name stays reserved meanwhile.
  Registry reg(options_);
  constexpr int kClaimants = 6;
  std::vector<std::shared_ptr<RecordingHolder>> holders;
  for (int i = 0; i < kClaimants; ++i) holders.push_back(std::make_shared<RecordingHolder>());
  std::vector<Status> results(kClaimants);
  std::atomic<int> ready{0};
  std::vector<std::thread> threads;
  for (int i = 0; i < kClaimants; ++i) {
    threads.emplace_back([&, i] {
      ++ready;
      while (ready.load() < kClaimants) std::this_thread::yield();
      auto r = claim(reg, claim_of("race", {64 << 20}, "uint8", 2, 5000 + i), holders[i]);
      results[i] = r.status();
    });
  }
  for (auto& t : threads) t.join();
  int granted = 0;
  for (const Status& st : results) {
    if (st.ok()) {
      ++granted;
      continue;
    }
    EXPECT_EQ(st.code(), StatusCode::kAlreadyExists) << st.message();
    EXPECT_NE(st.message().find("by pid 50"), std::string::npos) << st.message();
  }
  EXPECT_EQ(granted, 1);
  EXPECT_EQ(segments(), std::vector<std::string>{"/" + options_.shm_prefix + "race"});
  EXPECT_EQ(reg.list().size(), 1u);
}

TEST_F(DaemonRegistry, ReleaseFreesTheNameAndSameIdentityResumes) {
  Registry reg(options_);
  auto a = std::make_shared<RecordingHolder>();
  auto first = claim(reg, claim_of("cam"), a);
  ASSERT_TRUE(first.ok());
  for (uint64_t s = 1; s <= 3; ++s) ASSERT_TRUE(reg.publish(a.get(), notice(s)).ok());
  reg.release(a.get());
  reg.release(a.get());  // idempotent

  auto info = reg.get("cam");
  ASSERT_TRUE(info.ok());
  EXPECT_EQ(info->stats.producer_pid, 0);
  EXPECT_EQ(info->stats.latest_seq, 3u);
  EXPECT_EQ(info->stats.frames_published, 3u);

  auto b = std::make_shared<RecordingHolder>();
  auto again = claim(reg, claim_of("cam", {4, 3}, "float32", 4, 99), b);
  ASSERT_TRUE(again.ok());
  EXPECT_TRUE(again->resumed);
  EXPECT_EQ(again->latest_seq, 3u);
  EXPECT_EQ(again->layout.generation, first->layout.generation);
  EXPECT_EQ(again->metadata.creator_pid, 4242);  // the creator, not the resumer
  EXPECT_EQ(reg.get("cam")->stats.producer_pid, 99);
  // The sequence continues where the pool was.
  EXPECT_EQ(reg.publish(b.get(), notice(3)).code(), StatusCode::kInvalidArgument);
  EXPECT_TRUE(reg.publish(b.get(), notice(4)).ok());
}

TEST_F(DaemonRegistry, AnotherIdentityReplacesAFreePool) {
  Registry reg(options_);
  auto sink = std::make_shared<RecordingSink>();
  ASSERT_TRUE(reg.subscribe("cam", 1, sink).ok());
  auto a = std::make_shared<RecordingHolder>();
  auto first = claim(reg, claim_of("cam"), a);
  ASSERT_TRUE(first.ok());
  reg.release(a.get());
  auto b = std::make_shared<RecordingHolder>();
  auto second = claim(reg, claim_of("cam", {8}, "uint8", 2, 51), b);
  ASSERT_TRUE(second.ok());
  EXPECT_FALSE(second->resumed);
  EXPECT_NE(second->layout.generation, first->layout.generation);
  EXPECT_EQ(second->layout.frame_size, 8u);
  EXPECT_EQ(sink->take(), (std::vector<std::string>{"waiting", "attached(4242)", "gone(4242,kept)",
                                                    "removed", "attached(51)"}));
  EXPECT_EQ(segments().size(), 1u);
}

TEST_F(DaemonRegistry, RetentionRemoveUnlinksWhenTheProducerLeaves) {
  options_.retention = Retention::kRemove;
  Registry reg(options_);
  auto sink = std::make_shared<RecordingSink>();
  auto a = std::make_shared<RecordingHolder>();
  ASSERT_TRUE(claim(reg, claim_of("cam"), a).ok());
  ASSERT_TRUE(reg.subscribe("cam", 1, sink).ok());
  ASSERT_TRUE(reg.publish(a.get(), notice(1)).ok());
  reg.release(a.get());
  EXPECT_EQ(sink->take(), (std::vector<std::string>{"attached(4242)", "frame(1)",
                                                    "gone(4242,not kept)", "removed"}));
  EXPECT_EQ(reg.get("cam").status().code(), StatusCode::kNotFound);
  EXPECT_TRUE(segments().empty());
}

TEST_F(DaemonRegistry, InvalidClaimsCreateNothing) {
  options_.max_pool_bytes = 1 << 20;
  Registry reg(options_);
  struct Case {
    v1::ClaimPool claim;
    StatusCode code;
  };
  std::vector<Case> cases = {
      {claim_of(""), StatusCode::kInvalidArgument},
      {claim_of("../x"), StatusCode::kInvalidArgument},
      {claim_of("a/b"), StatusCode::kInvalidArgument},
      {claim_of(std::string(10000, 'n')), StatusCode::kInvalidArgument},
      {claim_of("big", {1000000, 1000000}), StatusCode::kResourceExhausted},
      {claim_of("wrap", {1LL << 40, 1LL << 40}), StatusCode::kInvalidArgument},
      {claim_of("neg", {-1, 3}), StatusCode::kInvalidArgument},
      {claim_of("h0", {4}, "float32", 0), StatusCode::kInvalidArgument},
      {claim_of("dt", {4}, "float33"), StatusCode::kInvalidArgument},
      {claim_of("over", {1024, 1024}, "uint8", 2), StatusCode::kResourceExhausted},
      {claim_of("pid", {4}, "uint8", 2, 0), StatusCode::kInvalidArgument},
  };
  for (auto& c : cases) {
    auto holder = std::make_shared<RecordingHolder>();
    auto r = claim(reg, c.claim, holder);
    ASSERT_FALSE(r.ok()) << c.claim.metadata().name().substr(0, 20);
    EXPECT_EQ(r.status().code(), c.code) << r.status().message();
    EXPECT_FALSE(r.status().message().empty());
    EXPECT_LT(r.status().message().size(), 400u);  // a 10,000-character name is not echoed
  }
  EXPECT_TRUE(reg.list().empty());
  EXPECT_TRUE(segments().empty());
}

TEST_F(DaemonRegistry, MaxPoolsIsEnforcedButResumeStillWorks) {
  options_.max_pools = 2;
  Registry reg(options_);
  auto a = std::make_shared<RecordingHolder>();
  auto b = std::make_shared<RecordingHolder>();
  auto c = std::make_shared<RecordingHolder>();
  ASSERT_TRUE(claim(reg, claim_of("a"), a).ok());
  ASSERT_TRUE(claim(reg, claim_of("b"), b).ok());
  auto third = claim(reg, claim_of("c"), c);
  ASSERT_FALSE(third.ok());
  EXPECT_EQ(third.status().code(), StatusCode::kResourceExhausted);
  EXPECT_NE(third.status().message().find("--max-pools"), std::string::npos);
  reg.release(a.get());
  EXPECT_TRUE(claim(reg, claim_of("a"), c).ok());
  EXPECT_EQ(segments().size(), 2u);
}

TEST_F(DaemonRegistry, PublishNoticesAreChecked) {
  Registry reg(options_);
  auto a = std::make_shared<RecordingHolder>();
  ASSERT_TRUE(claim(reg, claim_of("cam"), a).ok());
  EXPECT_TRUE(reg.publish(a.get(), notice(1)).ok());
  EXPECT_EQ(reg.publish(a.get(), notice(1)).code(), StatusCode::kInvalidArgument);
  FrameStamp wrong_slot = notice(2);
  wrong_slot.slot = 3;
  Status s = reg.publish(a.get(), wrong_slot);
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(s.message().find("slot 2"), std::string::npos) << s.message();
  EXPECT_TRUE(reg.publish(a.get(), notice(7)).ok());  // gaps are fine: only order matters
  RecordingHolder stranger;
  EXPECT_EQ(reg.publish(&stranger, notice(8)).code(), StatusCode::kAborted);
}

TEST_F(DaemonRegistry, SubscribersSeeEventsInOrder) {
  Registry reg(options_);
  auto early = std::make_shared<RecordingSink>();
  ASSERT_TRUE(reg.subscribe("cam", 10, early).ok());
  auto a = std::make_shared<RecordingHolder>();
  ASSERT_TRUE(claim(reg, claim_of("cam"), a).ok());
  for (uint64_t s = 1; s <= 3; ++s) ASSERT_TRUE(reg.publish(a.get(), notice(s)).ok());
  auto late = std::make_shared<RecordingSink>();
  ASSERT_TRUE(reg.subscribe("cam", 11, late).ok());
  ASSERT_TRUE(reg.publish(a.get(), notice(4)).ok());
  reg.release(a.get());
  auto b = std::make_shared<RecordingHolder>();
  ASSERT_TRUE(claim(reg, claim_of("cam", {4, 3}, "float32", 4, 5000), b).ok());
  ASSERT_TRUE(reg.remove("cam", true).ok());
  EXPECT_EQ(early->take(),
            (std::vector<std::string>{"waiting", "attached(4242)", "frame(1)", "frame(2)",
                                      "frame(3)", "frame(4)", "gone(4242,kept)", "attached(5000)",
                                      "gone(5000,not kept)", "removed"}));
  EXPECT_EQ(late->take(),
            (std::vector<std::string>{"attached(4242)", "frame(4)", "gone(4242,kept)",
                                      "attached(5000)", "gone(5000,not kept)", "removed"}));
  EXPECT_TRUE(reg.subscribe("../x", 1, std::make_shared<RecordingSink>()).code() ==
              StatusCode::kInvalidArgument);
}

TEST_F(DaemonRegistry, DropsAreCountedPerSubscriberAndInTotal) {
  Registry reg(options_);
  auto slow = std::make_shared<RecordingSink>(2);
  auto fast = std::make_shared<RecordingSink>(100);
  ASSERT_TRUE(reg.subscribe("cam", 21, slow).ok());
  ASSERT_TRUE(reg.subscribe("cam", 22, fast).ok());
  auto a = std::make_shared<RecordingHolder>();
  ASSERT_TRUE(claim(reg, claim_of("cam"), a).ok());
  for (uint64_t s = 1; s <= 10; ++s) ASSERT_TRUE(reg.publish(a.get(), notice(s)).ok());

  auto info = reg.get("cam");
  ASSERT_TRUE(info.ok());
  EXPECT_EQ(info->stats.subscribers, 2u);
  EXPECT_EQ(info->stats.dropped, 8u);
  ASSERT_EQ(info->stats.subscriber.size(), 2);
  for (const auto& s : info->stats.subscriber) {
    if (s.pid == 21) {
      EXPECT_EQ(s.keep_last, 2u);
      EXPECT_EQ(s.dropped, 8u);
      EXPECT_EQ(s.queued, 2u);
    } else {
      EXPECT_EQ(s.pid, 22);
      EXPECT_EQ(s.dropped, 0u);
      EXPECT_EQ(s.queued, 10u);
    }
  }
  reg.unsubscribe(slow.get());
  reg.unsubscribe(slow.get());  // idempotent
  info = reg.get("cam");
  EXPECT_EQ(info->stats.subscribers, 1u);
  EXPECT_EQ(info->stats.dropped, 8u);  // drops of a subscriber that left still count
  EXPECT_EQ(info->stats.frames_published, 10u);
  EXPECT_GT(info->stats.rate_hz, 0.0);
  EXPECT_GT(info->stats.last_publish_unix_ns, 0);
  EXPECT_GT(info->stats.created_unix_ns, 0);
}

TEST_F(DaemonRegistry, DeletingAHeldPoolNeedsForce) {
  Registry reg(options_);
  auto a = std::make_shared<RecordingHolder>();
  ASSERT_TRUE(claim(reg, claim_of("cam"), a).ok());
  Status s = reg.remove("cam", false);
  EXPECT_EQ(s.code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(s.message().find("pid 4242"), std::string::npos);
  EXPECT_EQ(segments().size(), 1u);
  EXPECT_TRUE(reg.remove("cam", true).ok());
  ASSERT_TRUE(a->revoked.has_value());
  EXPECT_EQ(a->revoked->code(), StatusCode::kAborted);
  EXPECT_TRUE(segments().empty());
  EXPECT_EQ(reg.remove("cam", false).code(), StatusCode::kNotFound);
  EXPECT_EQ(reg.remove("", false).code(), StatusCode::kInvalidArgument);
  // The revoked holder's stream ending later is harmless.
  reg.release(a.get());
  EXPECT_EQ(reg.publish(a.get(), notice(1)).code(), StatusCode::kAborted);
}

TEST_F(DaemonRegistry, ShutdownEndsEverythingAndKeepLeavesValidSegments) {
  std::string shm_name;
  {
    Registry reg(options_);
    auto a = std::make_shared<RecordingHolder>();
    auto sink = std::make_shared<RecordingSink>();
    auto granted = claim(reg, claim_of("cam"), a);
    ASSERT_TRUE(granted.ok());
    shm_name = granted->layout.shm_name;
    ASSERT_TRUE(reg.subscribe("cam", 1, sink).ok());
    reg.shutdown();
    ASSERT_TRUE(a->revoked && sink->closed);
    EXPECT_EQ(a->revoked->code(), StatusCode::kUnavailable);
    EXPECT_EQ(sink->closed->code(), StatusCode::kUnavailable);
    auto late = std::make_shared<RecordingHolder>();
    EXPECT_EQ(claim(reg, claim_of("x"), late).status().code(), StatusCode::kUnavailable);
    reg.finish_segments();
  }
  ASSERT_EQ(segments(), std::vector<std::string>{shm_name});
  auto file = ShmFile::open(shm_name, false);
  ASSERT_TRUE(file.ok());
  auto map = Mapping::map(*file, 0, kHeaderSize, Mapping::Access::kRead, false);
  ASSERT_TRUE(map.ok());
  EXPECT_EQ(header_of(map->data())->producer_pid.load(), 0);
}

TEST_F(DaemonRegistry, ShutdownWithRetentionRemoveLeavesNoSegment) {
  options_.retention = Retention::kRemove;
  Registry reg(options_);
  auto a = std::make_shared<RecordingHolder>();
  ASSERT_TRUE(claim(reg, claim_of("cam"), a).ok());
  reg.shutdown();
  reg.finish_segments();
  EXPECT_TRUE(segments().empty());
}

TEST_F(DaemonRegistry, RestartAdoptsValidSegmentsAndRemovesTheRest) {
  uint64_t generation = 0;
  {
    Registry reg(options_);
    auto a = std::make_shared<RecordingHolder>();
    auto granted = claim(reg, claim_of("cam"), a);
    ASSERT_TRUE(granted.ok());
    generation = granted->layout.generation;
    // The producer writes latest_seq in the header; the daemon only hears notices.
    auto file = ShmFile::open(granted->layout.shm_name, true);
    auto map = Mapping::map(*file, 0, kHeaderSize, Mapping::Access::kReadWrite, false);
    header_of(map->data())->latest_seq.store(9);
    ASSERT_TRUE(claim(reg, claim_of("other"), std::make_shared<RecordingHolder>()).ok());
    reg.shutdown();
    reg.finish_segments();
  }
  // Junk under the prefix, and a valid pool whose file name does not match
  // the name it records.
  { auto junk = ShmFile::create("/" + options_.shm_prefix + "junk", 100, 0600); }
  std::filesystem::copy_file("/dev/shm/" + options_.shm_prefix + "other",
                             "/dev/shm/" + options_.shm_prefix + "renamed");
  ASSERT_EQ(segments().size(), 4u);

  Registry reg(options_);
  AdoptionReport report = reg.adopt_leftovers();
  EXPECT_EQ(report.adopted, 2);
  EXPECT_EQ(report.removed, 2);
  EXPECT_EQ(segments().size(), 2u);
  auto info = reg.get("cam");
  ASSERT_TRUE(info.ok());
  EXPECT_EQ(info->stats.latest_seq, 9u);
  EXPECT_EQ(info->stats.producer_pid, 0);
  EXPECT_EQ(info->layout.generation, generation);
  EXPECT_EQ(info->metadata.dtype_str(), "float32");

  auto a = std::make_shared<RecordingHolder>();
  auto resumed = claim(reg, claim_of("cam"), a);
  ASSERT_TRUE(resumed.ok());
  EXPECT_TRUE(resumed->resumed);
  EXPECT_EQ(resumed->latest_seq, 9u);
  EXPECT_EQ(resumed->layout.generation, generation);
  EXPECT_TRUE(reg.publish(a.get(), notice(10)).ok());
}

}  // namespace
}  // namespace tensoripc::daemon
