// The registry's decisions, driven directly (no gRPC): claims, resume,
// replace, release, limits, validation, ownership, queries, shutdown and
// memory handed back to a restarted daemon, on real sealed memfds labelled
// with a private prefix. The test process plays the daemon, so the pool
// memory it holds open is what memfd_labels() lists; grants, producer
// mappings and queued events the test keeps hold memory open too.
#include "daemon/registry.h"

#include <gtest/gtest.h>
#include <spdlog/spdlog.h>
#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstring>
#include <limits>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "common/futex.h"
#include "common/shm.h"
#include "daemon/event_queue.h"
#include "pool/layout.h"
#include "pool/model.h"
#include "pool/ring.h"
#include "proto/wire.h"
#include "tests/support/child_process.h"
#include "tests/support/gpu_claim.h"
#include "tests/support/pool_memory.h"
#include "tests/support/process.h"

namespace tensoripc::daemon {
namespace {

using tensoripc::testing::copy_of_control;

// What a Subscribe stream would do with the events, minus the socket: a real
// EventQueue that the test drains. Frame events may come from the frame
// watcher's thread: a mutex, as the real outbox has.
class RecordingSink final : public EventSink {
 public:
  explicit RecordingSink(uint32_t keep_last = 64) : queue_(keep_last) {}
  void push_frame(const FrameStamp& f) override {
    std::lock_guard<std::mutex> lock(mu_);
    queue_.push_frame(f);
  }
  void skip_frames(uint64_t n) override {
    std::lock_guard<std::mutex> lock(mu_);
    queue_.count_dropped(n);
  }
  void push_lifecycle(std::shared_ptr<const PoolEvent> ev) override {
    std::lock_guard<std::mutex> lock(mu_);
    if (ev->kind == PoolEvent::Kind::kAttached) {
      queue_.cap_frames(ev->layout.slot_count);  // as the Subscribe stream's outbox does
      attached_memory = ev->memory;
      attached_cuda = ev->cuda;
    }
    queue_.push_lifecycle(std::move(ev));
  }
  void close(const Status& s) override { closed = s; }
  SubscriberStats stats() const override {
    std::lock_guard<std::mutex> lock(mu_);
    SubscriberStats s;
    s.keep_last = queue_.keep_last();
    s.dropped = queue_.dropped();
    s.queued = queue_.queued_frames();
    return s;
  }

  // "attached(pid)", "waiting", "frame(seq)", "gone(pid,kept)", "removed".
  std::vector<std::string> take() {
    std::lock_guard<std::mutex> lock(mu_);
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
  // The memory of the last attached event (not kept alive by this).
  std::weak_ptr<const PoolMapping> attached_memory;
  CudaMemory attached_cuda;  // ... and its GPU memory

 private:
  mutable std::mutex mu_;
  EventQueue queue_;
};

class RecordingHolder final : public LeaseHolder {
 public:
  void revoke(const Status& why) override { revoked = why; }
  std::optional<Status> revoked;
  // The producer's own mapping of the pool it was granted, opened from a
  // descriptor of the grant's memory as the descriptor channel would hand it
  // over (claim() below sets it).
  std::shared_ptr<PoolMapping> memory;
};

constexpr uint32_t kOwnerUid = 1000;
constexpr uint32_t kOtherUid = 1234;

// Who calls, as the socket's credentials would say.
Caller caller(int32_t pid, uint32_t uid = kOwnerUid, bool admin = false) {
  Caller c;
  c.pid = pid;
  c.uid = uid;
  c.admin = admin;
  return c;
}

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

ShmFile dup_of(const ShmFile& file) { return ShmFile::adopt_fd(::dup(file.fd()), "x"); }

std::shared_ptr<PoolMapping> map_as_producer(const Grant& g) {
  auto m = PoolMapping::open(dup_of(g.memory->file()), g.layout, g.metadata,
                             PoolMapping::Role::kProducer);
  EXPECT_TRUE(m.ok()) << m.status().message();
  return m.ok() ? *m : nullptr;
}

// A claim as it comes off the wire: the daemon reads it (proto/wire.h), then
// the registry decides for `who`. What the reading refuses is refused as a
// claim. A granted holder maps the pool as its producer would.
StatusOr<Grant> claim(Registry& reg, const v1::ClaimPool& c,
                      const std::shared_ptr<RecordingHolder>& holder, const Caller& who,
                      ShmFile* handed_back = nullptr) {
  auto read = wire::from_proto(c);
  if (!read.ok()) return read.status();
  auto granted = reg.claim(*read, who, holder, handed_back);
  // A GPU pool's frames are on the device: its host memory is not mapped here.
  if (granted.ok() && granted->layout.memory_kind == MemoryKind::kHost) {
    holder->memory = map_as_producer(*granted);
  }
  return granted;
}

// The owner's producer, with the pid the claim names.
StatusOr<Grant> claim(Registry& reg, const v1::ClaimPool& c,
                      const std::shared_ptr<RecordingHolder>& holder) {
  return claim(reg, c, holder, caller(c.pid()));
}

// What a producer does per frame: write it into the pool (the ring's write
// wakes the frame watcher). The test then has the registry announce at once
// rather than wait for the watcher's thread, so event orders are exact.
void put(Registry& reg, RecordingHolder& holder, uint64_t seq) {
  ASSERT_NE(holder.memory, nullptr);
  write_frame(*holder.memory, seq, nullptr);
  reg.announce_all();
}

class DaemonRegistry : public ::testing::Test {
 protected:
  DaemonRegistry() {
    static std::atomic<int> n{0};
    options_.shm_prefix = "tipcu" + std::to_string(::getpid()) + "x" + std::to_string(n++) + ".";
    spdlog::set_level(spdlog::level::warn);
  }

  // The labels of the pool memory this process holds open (the registry's,
  // and whatever the test still keeps).
  std::vector<std::string> segments() const {
    return testing::memfd_labels(::getpid(), options_.shm_prefix);
  }
  std::string label(const std::string& pool) const {
    return memory_label(options_.shm_prefix, pool);
  }


  RegistryOptions options_;
};

TEST_F(DaemonRegistry, ClaimCreatesTheMemoryAndASecondClaimNamesTheHolder) {
  Registry reg(options_);
  auto a = std::make_shared<RecordingHolder>();
  // The pid in the request is informational: the caller's (the kernel's) counts.
  auto granted = claim(reg, claim_of("cam", {4, 3}, "float32", 4, 1), a, caller(4242));
  ASSERT_TRUE(granted.ok()) << granted.status().message();
  EXPECT_FALSE(granted->resumed);
  EXPECT_EQ(granted->latest_seq, 0u);
  EXPECT_EQ(granted->metadata.shm_name, options_.shm_prefix + "cam");
  EXPECT_EQ(granted->layout.shm_name, options_.shm_prefix + "cam");
  EXPECT_EQ(granted->metadata.creator_pid, 4242);
  EXPECT_EQ(granted->producer_pid, 4242);
  EXPECT_EQ(granted->metadata.total_size, 4u * 3 * 4 * 4);
  EXPECT_NE(granted->layout.generation, 0u);
  EXPECT_EQ(segments(), std::vector<std::string>{label("cam")});
  EXPECT_FALSE(testing::any_shm_file_with_prefix(options_.shm_prefix)) << "nothing in /dev/shm";

  // The memory is real, sealed, and valid, and records the lease holder.
  ASSERT_NE(granted->memory, nullptr);
  const ShmFile& file = granted->memory->file();
  EXPECT_TRUE(file.sealed_against_resize());
  EXPECT_EQ(*file.size(), granted->layout.segment_size);
  EXPECT_EQ(granted->memory->role(), PoolMapping::Role::kBroker);
  EXPECT_EQ(granted->memory->generation(), granted->layout.generation);
  EXPECT_TRUE(check_header(&granted->memory->header(), granted->layout.segment_size).ok());
  EXPECT_EQ(granted->memory->header().producer_pid.load(), 4242);
  ASSERT_NE(a->memory, nullptr) << "a producer maps it from a descriptor of the grant's memory";
  EXPECT_EQ(a->memory->identity(), granted->memory->identity());

  auto b = std::make_shared<RecordingHolder>();
  auto second = claim(reg, claim_of("cam", {4, 3}, "float32", 4, 777), b);
  ASSERT_FALSE(second.ok());
  EXPECT_EQ(second.status().code(), StatusCode::kAlreadyExists);
  EXPECT_EQ(second.status().message(), "topic 'cam' is already published by pid 4242");
  EXPECT_EQ(second.status().holder_pid(), 4242) << "the pid travels as a field, not only as text";
  EXPECT_EQ(b->memory, nullptr);
}

TEST_F(DaemonRegistry, RacingClaimsOfANewPoolGrantExactlyOne) {
  // The memory is created outside the registry lock (64 MiB: ms of
  // fallocate); the name stays reserved meanwhile.
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
  EXPECT_EQ(segments(), std::vector<std::string>{label("race")});
  EXPECT_EQ(reg.list().size(), 1u);
}

TEST_F(DaemonRegistry, ReleaseFreesTheNameAndSameIdentityResumes) {
  Registry reg(options_);
  auto a = std::make_shared<RecordingHolder>();
  auto first = claim(reg, claim_of("cam"), a);
  ASSERT_TRUE(first.ok());
  for (uint64_t s = 1; s <= 3; ++s) put(reg, *a, s);
  reg.release(a.get());
  reg.release(a.get());  // idempotent
  EXPECT_EQ(first->memory->header().producer_pid.load(), 0) << "cleared by the daemon";

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
  EXPECT_EQ(again->memory, first->memory) << "the same memory, not a copy";
  EXPECT_EQ(again->metadata.creator_pid, 4242);  // the creator, not the resumer
  EXPECT_EQ(again->producer_pid, 99);
  EXPECT_EQ(reg.get("cam")->stats.producer_pid, 99);
  EXPECT_EQ(again->memory->header().producer_pid.load(), 99);
  // The sequence continues where the pool was.
  put(reg, *b, 4);
}

TEST_F(DaemonRegistry, AnotherIdentityReplacesAFreePool) {
  Registry reg(options_);
  auto sink = std::make_shared<RecordingSink>();
  ASSERT_TRUE(reg.subscribe("cam", caller(1), sink).ok());
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
  EXPECT_NE(second->memory->identity(), first->memory->identity()) << "new memory";
  EXPECT_EQ(sink->take(), (std::vector<std::string>{"waiting", "attached(4242)", "gone(4242,kept)",
                                                    "removed", "attached(51)"}));
  // The registry let go of the old memory: only what the test keeps holds it.
  std::weak_ptr<const PoolMapping> old = first->memory;
  first->memory.reset();
  a->memory.reset();
  // The frame watcher's thread drops its reference when it next looks (it
  // watched the pool for the subscriber): at once, not synchronously.
  EXPECT_TRUE(testing::eventually([&] { return old.expired(); }));
  EXPECT_EQ(segments(), std::vector<std::string>{label("cam")});
}

TEST_F(DaemonRegistry, RetentionRemoveDropsTheMemoryWhenTheProducerLeaves) {
  options_.retention = Retention::kRemove;
  Registry reg(options_);
  auto sink = std::make_shared<RecordingSink>();
  auto a = std::make_shared<RecordingHolder>();
  ASSERT_TRUE(claim(reg, claim_of("cam"), a).ok());
  ASSERT_TRUE(reg.subscribe("cam", caller(1), sink).ok());
  put(reg, *a, 1);
  reg.release(a.get());
  EXPECT_EQ(sink->take(), (std::vector<std::string>{"attached(4242)", "frame(1)",
                                                    "gone(4242,not kept)", "removed"}));
  EXPECT_EQ(reg.get("cam").status().code(), StatusCode::kNotFound);
  a->memory.reset();  // the producer unmaps as it leaves
  // ... and the frame watcher's thread when it next looks.
  EXPECT_TRUE(testing::eventually([&] { return segments().empty(); }));
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
  EXPECT_EQ(segments(), (std::vector<std::string>{label("a"), label("b")}));
}

// The daemon learns of frames from the pool: the producer's write wakes the
// pool's futex word, the frame watcher's thread wakes, and the registry reads
// latest_seq and the slot headers. No call of the test's announces here.
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
// drops, so in one pass the skips must come before the frames: the frames may
// be the last events it ever gets. (Seen as two frames missing from a stream
// consumer's account under ASan.) The header's waiter count is lowered for
// the writes, so that the watcher's thread stays asleep and the test's one
// announce does it all.
TEST_F(DaemonRegistry, SkippedFramesAreCountedBeforeTheFramesAfterThem) {
  class OrderSink final : public EventSink {
   public:
    void push_frame(const FrameStamp& f) override { log("frame(" + std::to_string(f.seq) + ")"); }
    void skip_frames(uint64_t n) override { log("skip(" + std::to_string(n) + ")"); }
    void push_lifecycle(std::shared_ptr<const PoolEvent>) override {}
    void close(const Status&) override {}
    SubscriberStats stats() const override { return {}; }
    std::vector<std::string> calls() {
      std::lock_guard<std::mutex> lock(mu_);
      return calls_;
    }

   private:
    void log(std::string c) {
      std::lock_guard<std::mutex> lock(mu_);
      calls_.push_back(std::move(c));
    }
    std::mutex mu_;
    std::vector<std::string> calls_;
  };
  Registry reg(options_);
  auto a = std::make_shared<RecordingHolder>();
  ASSERT_TRUE(claim(reg, claim_of("cam", {4, 3}, "float32", 4), a).ok());
  auto sink = std::make_shared<OrderSink>();
  ASSERT_TRUE(reg.subscribe("cam", caller(1), sink).ok());
  PoolHeader& h = a->memory->header();
  h.futex_waiters.store(0);
  for (uint64_t seq = 1; seq <= 10; ++seq) write_frame(*a->memory, seq, nullptr);
  reg.announce_all();
  h.futex_waiters.store(1);
  EXPECT_EQ(sink->calls(), (std::vector<std::string>{"skip(6)", "frame(7)", "frame(8)", "frame(9)",
                                                     "frame(10)"}));
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
  PoolHeader& h = liar->memory->header();
  for (uint64_t lie : {uint64_t{1000}, std::numeric_limits<uint64_t>::max() - 1,
                       std::numeric_limits<uint64_t>::max()}) {
    h.latest_seq.store(lie);
    futex_signal(h.futex_word, h.futex_waiters);
    reg.announce_all();  // returns: no walk over 2^64 sequence numbers
  }
  put(reg, *honest, 1);
  EXPECT_EQ(sink->take(), (std::vector<std::string>{"waiting", "attached(4242)", "frame(1)"}))
      << "no event for a frame the ring does not hold";
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

// ---- ownership: a pool belongs to the user whose producer created it

TEST_F(DaemonRegistry, OnlyTheOwnerRootOrAnAdminMayResumeReplaceOrDelete) {
  Registry reg(options_);
  auto a = std::make_shared<RecordingHolder>();
  auto first = claim(reg, claim_of("cam"), a, caller(4242, kOwnerUid));
  ASSERT_TRUE(first.ok());
  put(reg, *a, 1);

  // While held, another user hears that it is held, as anyone does.
  auto x = std::make_shared<RecordingHolder>();
  EXPECT_EQ(claim(reg, claim_of("cam"), x, caller(77, kOtherUid)).status().code(),
            StatusCode::kAlreadyExists);
  reg.release(a.get());

  auto expect_denied = [&](const Status& st, const char* what) {
    EXPECT_EQ(st.code(), StatusCode::kPermissionDenied) << what << ": " << st.message();
    EXPECT_NE(st.message().find("uid " + std::to_string(kOwnerUid)), std::string::npos)
        << what << " must name the owner: " << st.message();
    EXPECT_NE(st.message().find(std::to_string(kOtherUid)), std::string::npos)
        << what << " should name the caller: " << st.message();
  };
  expect_denied(claim(reg, claim_of("cam"), x, caller(77, kOtherUid)).status(), "resume");
  expect_denied(claim(reg, claim_of("cam", {8}, "uint8", 2), x, caller(77, kOtherUid)).status(),
                "replace");
  expect_denied(reg.remove("cam", false, caller(77, kOtherUid)), "delete");
  expect_denied(reg.remove("cam", true, caller(77, kOtherUid)), "forced delete");
  EXPECT_EQ(x->memory, nullptr);
  // Nothing changed.
  auto info = reg.get("cam");
  ASSERT_TRUE(info.ok());
  EXPECT_EQ(info->layout.generation, first->layout.generation);
  EXPECT_EQ(info->stats.latest_seq, 1u);
  EXPECT_EQ(info->stats.owner_uid, kOwnerUid);

  // The owner resumes from another process.
  auto o = std::make_shared<RecordingHolder>();
  auto owner = claim(reg, claim_of("cam"), o, caller(88, kOwnerUid));
  ASSERT_TRUE(owner.ok()) << owner.status().message();
  EXPECT_TRUE(owner->resumed);
  reg.release(o.get());

  // Root resumes, and the pool stays its creator's.
  auto r = std::make_shared<RecordingHolder>();
  auto by_root = claim(reg, claim_of("cam"), r, caller(90, 0));
  ASSERT_TRUE(by_root.ok()) << by_root.status().message();
  EXPECT_TRUE(by_root->resumed);
  EXPECT_EQ(reg.get("cam")->stats.owner_uid, kOwnerUid);
  reg.release(r.get());

  // A member of the admin group resumes and deletes.
  auto adm = std::make_shared<RecordingHolder>();
  auto by_admin = claim(reg, claim_of("cam"), adm, caller(91, kOtherUid, true));
  ASSERT_TRUE(by_admin.ok()) << by_admin.status().message();
  EXPECT_TRUE(by_admin->resumed);
  EXPECT_TRUE(reg.remove("cam", true, caller(91, kOtherUid, true)).ok());
  EXPECT_EQ(reg.get("cam").status().code(), StatusCode::kNotFound);

  // Root replacing a pool makes the new one root's.
  ASSERT_TRUE(claim(reg, claim_of("cam"), a, caller(4242, kOwnerUid)).ok());
  reg.release(a.get());
  auto rr = std::make_shared<RecordingHolder>();
  auto replaced = claim(reg, claim_of("cam", {8}, "uint8", 2), rr, caller(92, 0));
  ASSERT_TRUE(replaced.ok()) << replaced.status().message();
  EXPECT_FALSE(replaced->resumed);
  EXPECT_EQ(reg.get("cam")->stats.owner_uid, 0u);
  reg.release(rr.get());
  Status not_root = reg.remove("cam", false, caller(4242, kOwnerUid));
  EXPECT_EQ(not_root.code(), StatusCode::kPermissionDenied) << "the former owner no longer owns it";
  EXPECT_NE(not_root.message().find("uid 0"), std::string::npos) << not_root.message();
}

TEST_F(DaemonRegistry, ListAndGetShowTheOwner) {
  Registry reg(options_);
  auto a = std::make_shared<RecordingHolder>();
  auto b = std::make_shared<RecordingHolder>();
  ASSERT_TRUE(claim(reg, claim_of("mine"), a, caller(10, kOwnerUid)).ok());
  ASSERT_TRUE(claim(reg, claim_of("theirs"), b, caller(11, kOtherUid)).ok());
  auto mine = reg.get("mine");
  ASSERT_TRUE(mine.ok());
  EXPECT_EQ(mine->stats.owner_uid, kOwnerUid);
  const auto all = reg.list();
  ASSERT_EQ(all.size(), 2u);
  for (const PoolInfo& info : all) {
    EXPECT_EQ(info.stats.owner_uid, info.metadata.name == "mine" ? kOwnerUid : kOtherUid)
        << info.metadata.name;
  }
  // Reading stats is open to everyone: no caller is asked for.
  v1::PoolInfo wire_info;
  wire::to_proto(*reg.get("theirs"), &wire_info);
  EXPECT_EQ(wire_info.stats().owner_uid(), kOtherUid);
}

// ---- shutdown

TEST_F(DaemonRegistry, ShutdownEndsEverythingAndProducersKeepValidMemory) {
  auto a = std::make_shared<RecordingHolder>();
  {
    Registry reg(options_);
    auto sink = std::make_shared<RecordingSink>();
    auto granted = claim(reg, claim_of("cam"), a);
    ASSERT_TRUE(granted.ok());
    put(reg, *a, 1);
    ASSERT_TRUE(reg.subscribe("cam", caller(1), sink).ok());
    reg.shutdown();
    ASSERT_TRUE(a->revoked && sink->closed);
    EXPECT_EQ(a->revoked->code(), StatusCode::kUnavailable);
    EXPECT_EQ(sink->closed->code(), StatusCode::kUnavailable);
    auto late = std::make_shared<RecordingHolder>();
    EXPECT_EQ(claim(reg, claim_of("x"), late).status().code(), StatusCode::kUnavailable);
    EXPECT_EQ(reg.subscribe("cam", caller(2), std::make_shared<RecordingSink>()).code(),
              StatusCode::kUnavailable);
    EXPECT_EQ(granted->memory->header().producer_pid.load(), 0);
  }
  // The daemon is gone; the producer's mapping (what it hands to the next
  // daemon) is whole.
  ASSERT_NE(a->memory, nullptr);
  EXPECT_TRUE(check_header(&a->memory->header(), *a->memory->file().size()).ok());
  EXPECT_EQ(a->memory->header().latest_seq.load(), 1u);
  EXPECT_EQ(segments(), std::vector<std::string>{label("cam")});
  a->memory.reset();
  EXPECT_TRUE(segments().empty()) << "nothing outlives its last holder";
}

TEST_F(DaemonRegistry, ARegistryReleasesAllItsMemoryWhenDestroyed) {
  {
    Registry reg(options_);
    for (const char* name : {"a", "b", "c"}) {
      auto h = std::make_shared<RecordingHolder>();
      auto granted = claim(reg, claim_of(name), h);
      ASSERT_TRUE(granted.ok());
      h->memory.reset();
    }
    auto sink = std::make_shared<RecordingSink>();
    ASSERT_TRUE(reg.subscribe("a", caller(1), sink).ok());
    EXPECT_EQ(segments().size(), 3u);
    EXPECT_EQ(sink->take(), std::vector<std::string>{"attached(4242)"});
  }
  EXPECT_TRUE(segments().empty());
}

// ---- memory handed back to a restarted daemon

TEST_F(DaemonRegistry, HandedBackMemoryCarriesThePoolOnInANewDaemon) {
  uint64_t generation = 0;
  FileIdentity identity;
  ShmFile handed;
  auto a = std::make_shared<RecordingHolder>();
  {
    Registry old_daemon(options_);
    auto granted = claim(old_daemon, claim_of("cam"), a);
    ASSERT_TRUE(granted.ok());
    generation = granted->layout.generation;
    identity = granted->memory->identity();
    for (uint64_t s = 1; s <= 3; ++s) put(old_daemon, *a, s);
    auto sink = std::make_shared<RecordingSink>();
    ASSERT_TRUE(old_daemon.subscribe("cam", caller(1), sink).ok());
    EXPECT_EQ(granted->memory->header().futex_waiters.load(), 1u);
    handed = dup_of(granted->memory->file());
    old_daemon.shutdown();
  }
  // The producer's own descriptor, as it would arrive over the channel.
  a->memory.reset();

  Registry new_daemon(options_);
  auto b = std::make_shared<RecordingHolder>();
  auto resumed =
      claim(new_daemon, claim_of("cam", {4, 3}, "float32", 4, 4343), b, caller(4343), &handed);
  ASSERT_TRUE(resumed.ok()) << resumed.status().message();
  EXPECT_TRUE(resumed->resumed);
  EXPECT_EQ(resumed->layout.generation, generation) << "consumers' mappings stay valid";
  EXPECT_EQ(resumed->latest_seq, 3u);
  EXPECT_EQ(resumed->memory->identity(), identity) << "the very memory, not a copy";
  EXPECT_EQ(resumed->memory->header().producer_pid.load(), 4343);
  // Consumers of the old daemon are still mapped and waiting: their count
  // stays until they subscribe again.
  EXPECT_EQ(resumed->memory->header().futex_waiters.load(), 1u);
  auto sink = std::make_shared<RecordingSink>();
  ASSERT_TRUE(new_daemon.subscribe("cam", caller(2), sink).ok());
  EXPECT_EQ(resumed->memory->header().futex_waiters.load(), 1u);
  new_daemon.unsubscribe(sink.get());
  EXPECT_EQ(resumed->memory->header().futex_waiters.load(), 0u);

  auto info = new_daemon.get("cam");
  ASSERT_TRUE(info.ok());
  EXPECT_EQ(info->stats.latest_seq, 3u);
  EXPECT_EQ(info->stats.owner_uid, kOwnerUid);
  put(new_daemon, *b, 4);
  EXPECT_EQ(segments(), std::vector<std::string>{label("cam")});
}

TEST_F(DaemonRegistry, HandedBackMemoryThatFailsTheChecksIsDroppedAndThePoolCreatedAnew) {
  Registry old_daemon(options_);
  auto a = std::make_shared<RecordingHolder>();
  auto cam = claim(old_daemon, claim_of("cam"), a);
  ASSERT_TRUE(cam.ok());
  for (uint64_t s = 1; s <= 3; ++s) put(old_daemon, *a, s);
  auto o = std::make_shared<RecordingHolder>();
  auto other = claim(old_daemon, claim_of("other", {4, 3}, "float32", 4), o);
  ASSERT_TRUE(other.ok());
  for (uint64_t s = 1; s <= 5; ++s) put(old_daemon, *o, s);
  const PoolMapping& memory = *cam->memory;

  struct Case {
    const char* what;
    ShmFile file;
    v1::ClaimPool claim;
  };
  std::vector<Case> cases;
  cases.push_back({"another pool's memory", dup_of(other->memory->file()), claim_of("cam")});
  cases.push_back({"memory of another identity", dup_of(memory.file()), claim_of("cam", {4, 4})});
  cases.push_back({"an unsealed memfd",
                   copy_of_control(memory, memory.layout().segment_size, false), claim_of("cam")});
  cases.push_back({"a file too small",
                   copy_of_control(memory, memory.layout().segment_size - 1, true),
                   claim_of("cam")});
  cases.push_back(
      {"a header page only", copy_of_control(memory, kHeaderSize, true), claim_of("cam")});
  auto ro = memory.file().reopen_read_only();
  ASSERT_TRUE(ro.ok());
  cases.push_back({"a read-only descriptor", std::move(*ro), claim_of("cam")});

  for (Case& c : cases) {
    ASSERT_GE(c.file.fd(), 0) << c.what;
    const FileIdentity handed = *c.file.identity();
    Registry new_daemon(options_);
    auto b = std::make_shared<RecordingHolder>();
    auto granted = claim(new_daemon, c.claim, b, caller(4343), &c.file);
    ASSERT_TRUE(granted.ok()) << c.what << ": " << granted.status().message();
    EXPECT_FALSE(granted->resumed) << c.what;
    EXPECT_EQ(granted->latest_seq, 0u) << c.what;
    EXPECT_NE(granted->layout.generation, memory.generation()) << c.what;
    EXPECT_NE(granted->layout.generation, other->memory->generation()) << c.what;
    EXPECT_NE(granted->memory->identity(), handed) << c.what << ": must be new memory";
    EXPECT_TRUE(granted->memory->file().sealed_against_resize()) << c.what;
    EXPECT_EQ(granted->memory->header().latest_seq.load(), 0u) << c.what;
    put(new_daemon, *b, 1);
  }
  // None of that touched the memory it was copied from.
  EXPECT_EQ(memory.header().latest_seq.load(), 3u);
  EXPECT_EQ(other->memory->header().latest_seq.load(), 5u);
}

TEST_F(DaemonRegistry, HandedBackMemoryIsIgnoredWhenThePoolExists) {
  Registry reg(options_);
  auto a = std::make_shared<RecordingHolder>();
  auto first = claim(reg, claim_of("cam"), a);
  ASSERT_TRUE(first.ok());
  put(reg, *a, 1);
  reg.release(a.get());
  // Memory of a pool of the same identity from elsewhere (another daemon).
  Registry elsewhere(options_);
  auto e = std::make_shared<RecordingHolder>();
  auto foreign = claim(elsewhere, claim_of("cam"), e);
  ASSERT_TRUE(foreign.ok());
  ShmFile handed = dup_of(foreign->memory->file());
  elsewhere.shutdown();

  auto b = std::make_shared<RecordingHolder>();
  auto again = claim(reg, claim_of("cam"), b, caller(4242), &handed);
  ASSERT_TRUE(again.ok()) << again.status().message();
  EXPECT_TRUE(again->resumed);
  EXPECT_EQ(again->memory, first->memory) << "the pool this daemon has wins";
  EXPECT_EQ(again->latest_seq, 1u);
}

}  // namespace
}  // namespace tensoripc::daemon
