// The registry's decisions, driven directly (no gRPC): claims, resume,
// replace, release, limits, validation, ownership, queries, shutdown and
// memory handed back to a restarted daemon, on real sealed memfds labelled
// with a private prefix (subscribers and frames: registry_subscribers_test.cc).
// The test process plays the daemon, so the pool memory it holds open is
// what memfd_labels() lists; grants, producer mappings and queued events the
// test keeps hold memory open too.
#include "daemon/registry.h"

#include <gtest/gtest.h>
#include <sys/mman.h>
#include <unistd.h>

#include <atomic>
#include <cstring>
#include <memory>
#include <thread>
#include <vector>

#include "pool/layout.h"
#include "tests/daemon/registry_fixture.h"
#include "tests/support/child_process.h"
#include "tests/support/process.h"

namespace tensoripc::daemon {
namespace {

using tensoripc::testing::copy_of_control;

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

// Kept pools (their producers left) give way to a new claim under
// --max-pools, the one left longest ago first, with PoolRemoved saying why;
// held pools never do.
TEST_F(DaemonRegistry, KeptPoolsAreEvictedOldestFirstForANewClaim) {
  options_.max_pools = 3;
  Registry reg(options_);
  auto a = std::make_shared<RecordingHolder>();
  auto b = std::make_shared<RecordingHolder>();
  auto c = std::make_shared<RecordingHolder>();
  ASSERT_TRUE(claim(reg, claim_of("a"), a).ok());
  ASSERT_TRUE(claim(reg, claim_of("b"), b).ok());
  ASSERT_TRUE(claim(reg, claim_of("c"), c).ok());
  auto watcher = std::make_shared<RecordingSink>();
  ASSERT_TRUE(reg.subscribe("b", caller(1), watcher).ok());
  reg.release(b.get());  // b left first, then a: b is the oldest kept pool
  std::this_thread::sleep_for(std::chrono::milliseconds(2));
  reg.release(a.get());
  a->memory.reset();  // the producers' own mappings go with them
  b->memory.reset();

  auto d = std::make_shared<RecordingHolder>();
  ASSERT_TRUE(claim(reg, claim_of("d"), d).ok());
  EXPECT_EQ(watcher->take(),  // (its attached event held b's memory until taken)
            (std::vector<std::string>{"attached(4242)", "gone(4242,kept)", "removed"}));
  // (The frame watcher lets go of b's memory on its own thread.)
  const std::vector<std::string> acd{label("a"), label("c"), label("d")};
  EXPECT_TRUE(testing::eventually([&] { return segments() == acd; }))
      << ::testing::PrintToString(segments());
  auto e = std::make_shared<RecordingHolder>();
  ASSERT_TRUE(claim(reg, claim_of("e"), e).ok());  // a goes now
  const std::vector<std::string> cde{label("c"), label("d"), label("e")};
  EXPECT_TRUE(testing::eventually([&] { return segments() == cde; }))
      << ::testing::PrintToString(segments());
  // Every pool is held: the next claim is refused, and nothing is evicted.
  auto f = std::make_shared<RecordingHolder>();
  auto refused = claim(reg, claim_of("f"), f);
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.status().code(), StatusCode::kResourceExhausted);
  EXPECT_NE(refused.status().message().find("--max-pools"), std::string::npos);
  EXPECT_EQ(segments(), cde);
}

// The same under --max-total-bytes: as many kept pools go as the new one
// needs room for.
TEST_F(DaemonRegistry, KeptPoolsGiveWayUnderMaxTotalBytes) {
  uint64_t one = 0;  // what a [1024] float32 x 4 pool takes
  {
    Registry probe(options_);
    auto p = std::make_shared<RecordingHolder>();
    auto g = claim(probe, claim_of("probe", {1024}), p);
    ASSERT_TRUE(g.ok());
    one = g->layout.segment_size;
  }

  options_.max_total_bytes = 3 * one;
  Registry reg(options_);
  std::vector<std::shared_ptr<RecordingHolder>> holders;
  for (const char* name : {"a", "b", "c"}) {
    holders.push_back(std::make_shared<RecordingHolder>());
    ASSERT_TRUE(claim(reg, claim_of(name, {1024}), holders.back()).ok()) << name;
  }
  reg.release(holders[0].get());
  std::this_thread::sleep_for(std::chrono::milliseconds(2));
  reg.release(holders[1].get());
  holders[0]->memory.reset();  // the producers' own mappings go with them
  holders[1]->memory.reset();
  // Twice the room of one: both kept pools go, a (the older) first.
  auto big = std::make_shared<RecordingHolder>();
  ASSERT_TRUE(claim(reg, claim_of("big", {2048}), big).ok());
  const std::vector<std::string> left{label("big"), label("c")};
  EXPECT_TRUE(testing::eventually([&] { return segments() == left; }))
      << ::testing::PrintToString(segments());
}

// The daemon learns of frames from the pool: the producer's write wakes the
// pool's futex word, the frame watcher's thread wakes, and the registry reads
// latest_seq and the slot headers. No call of the test's announces here.

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
  for (const PoolRecord& info : all) {
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
