// The frame ring on pool memory made in-process as the daemon makes it
// (PoolMapping::create), mapped by a producer and a consumer from
// descriptors as they would receive them: the seqlock, writes and reads,
// history snapshots, zeros for unwritten frames, lost frames of a dead
// writer, views, the futex path, what PoolMapping::open refuses, and a
// consumer that cannot write anything.
#include "pool/ring.h"

#include <gtest/gtest.h>
#include <signal.h>
#include <spawn.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <functional>
#include <random>
#include <thread>
#include <vector>

#include "common/clock.h"
#include "common/process.h"
#include "common/shm.h"
#include "pool/mapping.h"
#include "pool/model.h"
#include "tests/support/pool_memory.h"

extern char** environ;

namespace tensoripc {
namespace {

constexpr uint64_t kGeneration = 0x5eed;

// Element i of frame `seq`: a checkable pattern that is never all zeros.
uint64_t pattern(uint64_t seq, size_t i) { return seq * 1000003 + i + 1; }

void fill_frame(std::vector<uint64_t>& buf, uint64_t seq) {
  for (size_t i = 0; i < buf.size(); ++i) buf[i] = pattern(seq, i);
}

// True when `frame` is exactly frame `seq` (or all zeros for seq 0).
bool frame_is(const uint64_t* frame, size_t n, uint64_t seq) {
  for (size_t i = 0; i < n; ++i) {
    if (frame[i] != (seq == 0 ? 0 : pattern(seq, i))) return false;
  }
  return true;
}

int dead_pid() {
  pid_t pid;
  char* argv[] = {const_cast<char*>("/bin/true"), nullptr};
  if (posix_spawn(&pid, "/bin/true", nullptr, nullptr, argv, environ) != 0) return 0;
  int status;
  waitpid(pid, &status, 0);
  return pid;
}

// Another descriptor of the same memory, as the descriptor channel delivers
// one to another process.
ShmFile dup_of(const ShmFile& file) { return ShmFile::adopt_fd(::dup(file.fd()), file.name()); }

// Runs `body` in a forked child (this test binary has no other threads to
// lose) and returns its wait status. The child gets the default SIGSEGV
// action, so a sanitizer's handler does not turn the fault into an exit code.
int in_child(const std::function<void()>& body) {
  const pid_t pid = ::fork();
  if (pid == 0) {
    ::signal(SIGSEGV, SIG_DFL);
    ::signal(SIGBUS, SIG_DFL);
    body();
    ::_exit(0);
  }
  int status = 0;
  ::waitpid(pid, &status, 0);
  return status;
}

bool died_of(int status, int sig) { return WIFSIGNALED(status) && WTERMSIG(status) == sig; }

class PoolRingTest : public ::testing::Test {
 protected:
  void make_pool(size_t elements, uint32_t history_len) {
    static int counter = 0;
    elements_ = elements;
    md_.name = "ring_test";
    md_.shape = {static_cast<int64_t>(elements)};
    md_.dtype = DType::kUInt64;
    md_.history_len = history_len;
    ASSERT_TRUE(complete_metadata(&md_, PoolLimits{}).ok());
    md_.shm_name = memory_label(
        "tipcu" + std::to_string(::getpid()) + "x" + std::to_string(counter++) + ".", md_.name);
    auto broker = PoolMapping::create(md_, kGeneration);
    ASSERT_TRUE(broker.ok()) << broker.status().message();
    broker_ = *broker;
    layout_ = broker_->layout();
    auto p = PoolMapping::open(dup_of(broker_->file()), layout_, md_, PoolMapping::Role::kProducer);
    ASSERT_TRUE(p.ok()) << p.status().message();
    producer_ = *p;
    auto ro = broker_->file().reopen_read_only();
    ASSERT_TRUE(ro.ok()) << ro.status().message();
    auto c = PoolMapping::open(std::move(*ro), layout_, md_, PoolMapping::Role::kConsumer);
    ASSERT_TRUE(c.ok()) << c.status().message();
    consumer_ = *c;
    buf_.resize(elements);
  }

  ShmFile copy_of_control(size_t size, bool sealed) {
    return tensoripc::testing::copy_of_control(*broker_, size, sealed);
  }

  uint64_t put() {
    const uint64_t seq = producer_->header().latest_seq.load() + 1;
    fill_frame(buf_, seq);
    const FrameStamp w = write_next_frame(*producer_, buf_.data());
    EXPECT_EQ(w.seq, seq);
    EXPECT_EQ(w.slot, seq % producer_->slot_count());
    return seq;
  }

  // Reads `count` frames; checks every frame against its seq.
  uint64_t read(size_t count, bool latest_first, std::vector<uint64_t>* seqs) {
    std::vector<uint64_t> out(count * elements_, 0xdead);
    seqs->assign(count, 0xdead);
    std::vector<int64_t> ts(count);
    const uint64_t latest =
        read_history(*consumer_, count, latest_first, out.data(), seqs->data(), ts.data());
    if (latest == 0) return 0;
    for (size_t i = 0; i < count; ++i) {
      EXPECT_TRUE(frame_is(out.data() + i * elements_, elements_, (*seqs)[i]))
          << "frame " << i << " is not seq " << (*seqs)[i];
      EXPECT_EQ(ts[i] == 0, (*seqs)[i] == 0);
    }
    return latest;
  }

  size_t elements_ = 0;
  PoolMetadata md_;
  Layout layout_;
  std::shared_ptr<PoolMapping> broker_;
  std::shared_ptr<PoolMapping> producer_;
  std::shared_ptr<PoolMapping> consumer_;
  std::vector<uint64_t> buf_;
};

TEST_F(PoolRingTest, EmptyPoolHasNothingAndUnwrittenFramesAreZeros) {
  make_pool(100, 4);
  std::vector<uint64_t> seqs;
  EXPECT_EQ(read(4, true, &seqs), 0u);
  put();
  put();
  EXPECT_EQ(read(4, true, &seqs), 2u);  // history longer than frames written
  EXPECT_EQ(seqs, (std::vector<uint64_t>{2, 1, 0, 0}));
  EXPECT_EQ(read(4, false, &seqs), 2u);
  EXPECT_EQ(seqs, (std::vector<uint64_t>{0, 0, 1, 2}));
}

TEST_F(PoolRingTest, HistoryOrderAcrossWrapRound) {
  make_pool(1000, 4);
  for (int i = 0; i < 10; ++i) put();
  std::vector<uint64_t> seqs;
  EXPECT_EQ(read(4, true, &seqs), 10u);
  EXPECT_EQ(seqs, (std::vector<uint64_t>{10, 9, 8, 7}));
  EXPECT_EQ(read(3, false, &seqs), 10u);
  EXPECT_EQ(seqs, (std::vector<uint64_t>{8, 9, 10}));
  EXPECT_EQ(read(1, true, &seqs), 10u);
  EXPECT_EQ(seqs, (std::vector<uint64_t>{10}));

  std::vector<uint64_t> one(1000);
  int64_t ts = 0;
  EXPECT_EQ(read_frame(*consumer_, 9, one.data(), &ts), ReadStatus::kOk);
  EXPECT_TRUE(frame_is(one.data(), 1000, 9));
  EXPECT_GT(ts, 0);
  EXPECT_EQ(read_frame(*consumer_, 6, one.data(), &ts), ReadStatus::kOverwritten);
}

// A producer killed between slot_write_begin and slot_write_end leaves the
// slot odd forever. Readers must neither wait for it nor return it.
TEST_F(PoolRingTest, SlotLeftOddByADeadWriterReadsAsLostWithoutBlocking) {
  make_pool(4096, 1);  // history 1: the next write lands on the only frame
  put();
  put();
  for (int pid : {0, dead_pid()}) {
    producer_->header().producer_pid.store(pid);
    const uint64_t latest = producer_->header().latest_seq.load();
    slot_write_begin(producer_->slot(0));
    std::memset(producer_->writable_frame(0), 0x5a, 100);  // torn on purpose
    const auto start = std::chrono::steady_clock::now();
    std::vector<uint64_t> seqs;
    EXPECT_EQ(read(1, true, &seqs), latest);
    EXPECT_EQ(seqs, (std::vector<uint64_t>{0})) << "a torn frame must read as lost (zeros)";
    EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::milliseconds(100))
        << "dead writer pid " << pid;
    EXPECT_EQ(locate_latest(*consumer_).frame.seq, 0u);
    // A new producer moves past the odd counter and the ring works again.
    producer_->header().producer_pid.store(::getpid());
    const uint64_t seq = put();
    EXPECT_EQ(read(1, true, &seqs), seq);
    EXPECT_EQ(seqs, (std::vector<uint64_t>{seq}));
  }
}

// A live producer that stalls mid-write is waited for only up to a bound.
TEST_F(PoolRingTest, StalledLiveWriterIsWaitedForOnlyABoundedTime) {
  make_pool(16, 2);
  put();
  put();
  producer_->header().producer_pid.store(::getpid());  // alive
  slot_write_begin(producer_->slot(3 % 2));            // overwriting seq 1
  const auto start = std::chrono::steady_clock::now();
  std::vector<uint64_t> seqs;
  EXPECT_EQ(read(2, true, &seqs), 2u);
  const auto took = std::chrono::steady_clock::now() - start;
  EXPECT_EQ(seqs, (std::vector<uint64_t>{2, 0}));
  EXPECT_GE(took, std::chrono::milliseconds(40));
  EXPECT_LT(took, std::chrono::seconds(1));
  // Frame 2 itself is untouched and a single-frame read never waits.
  const auto start1 = std::chrono::steady_clock::now();
  EXPECT_EQ(read(1, true, &seqs), 2u);
  EXPECT_EQ(seqs, (std::vector<uint64_t>{2}));
  EXPECT_LT(std::chrono::steady_clock::now() - start1, std::chrono::milliseconds(20));
}

// A writer thread laps a reader thread as fast as it can: every snapshot is
// consecutive frames, each exactly its frame, never torn.
TEST_F(PoolRingTest, ConcurrentReadsAreConsistentSnapshots) {
  make_pool(16 * 1024, 4);  // 128 KiB frames
  producer_->header().producer_pid.store(::getpid());
  std::atomic<bool> stop{false};
  std::thread writer([&] {
    std::vector<uint64_t> b(elements_);
    while (!stop.load()) {
      fill_frame(b, producer_->header().latest_seq.load() + 1);
      write_next_frame(*producer_, b.data());
    }
  });
  int snapshots = 0;
  int lost = 0;
  const auto end = std::chrono::steady_clock::now() + std::chrono::milliseconds(500);
  std::vector<uint64_t> out(3 * elements_);
  std::vector<uint64_t> seqs(3);
  while (std::chrono::steady_clock::now() < end) {
    const uint64_t latest = read_history(*consumer_, 3, true, out.data(), seqs.data(), nullptr);
    if (latest == 0) continue;
    ++snapshots;
    for (size_t i = 0; i < 3; ++i) {
      if (seqs[i] == 0) {
        ++lost;  // only after the restart budget; still never torn
      } else {
        ASSERT_EQ(seqs[i], latest - i);
      }
      ASSERT_TRUE(frame_is(out.data() + i * elements_, elements_, seqs[i])) << "torn frame";
    }
  }
  stop = true;
  writer.join();
  EXPECT_GT(snapshots, 10);
  RecordProperty("snapshots", snapshots);
  RecordProperty("lost", lost);
  std::printf("snapshots %d, frames written %lu, lost-by-lapping %d\n", snapshots,
              static_cast<unsigned long>(producer_->header().latest_seq.load()), lost);
}

TEST_F(PoolRingTest, ViewIsValidUntilTheProducerWrapsRound) {
  make_pool(64, 3);
  put();
  const LatestFrame f = locate_latest(*consumer_);
  ASSERT_EQ(f.frame.seq, 1u);
  const auto* data = reinterpret_cast<const uint64_t*>(consumer_->frame(f.frame.slot));
  EXPECT_TRUE(frame_is(data, 64, 1));
  const SlotHeader& slot = consumer_->slot(f.frame.slot);
  put();
  put();
  EXPECT_TRUE(still_holds(slot, f.lock));  // seqs 2 and 3 went to other slots
  put();                                   // seq 4 lands on seq 1's slot
  EXPECT_FALSE(still_holds(slot, f.lock));
}

TEST_F(PoolRingTest, FutexWaitWakesOnPutAndTimesOut) {
  make_pool(8, 2);
  const auto t0 = std::chrono::steady_clock::now();
  EXPECT_EQ(wait_for_seq_after(*consumer_, 0, std::chrono::milliseconds(30)), 0u);
  EXPECT_GE(std::chrono::steady_clock::now() - t0, std::chrono::milliseconds(30));
  EXPECT_EQ(broker_->header().futex_waiters.load(), 0u) << "a consumer never counts itself";

  // The daemon raises futex_waiters while the pool has subscribers (one here).
  broker_->header().futex_waiters.store(1);
  std::thread writer([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    put();
  });
  const auto t1 = std::chrono::steady_clock::now();
  EXPECT_EQ(wait_for_seq_after(*consumer_, 0, std::chrono::seconds(5)), 1u);
  EXPECT_LT(std::chrono::steady_clock::now() - t1, std::chrono::seconds(2)) << "woken by the put";
  writer.join();
  EXPECT_EQ(broker_->header().futex_waiters.load(), 1u) << "the daemon's count, untouched";
  // Already newer: returns at once.
  EXPECT_EQ(wait_for_seq_after(*consumer_, 0, std::chrono::seconds(5)), 1u);

  // A consumer stops its own waiter: a flag, and wake-ups until it is gone
  // (from a read-only mapping the word cannot be bumped).
  const uint32_t word = broker_->header().futex_word.load();
  std::atomic<bool> stop{false};
  std::atomic<bool> returned{false};
  std::thread waiter([&] {
    wait_for_seq_after(*consumer_, 1, std::chrono::seconds(30), &stop);
    returned = true;
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  stop = true;
  const auto t2 = std::chrono::steady_clock::now();
  while (!returned.load() && std::chrono::steady_clock::now() - t2 < std::chrono::seconds(5)) {
    wake_waiters(*consumer_);
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  waiter.join();
  EXPECT_LT(std::chrono::steady_clock::now() - t2, std::chrono::seconds(5)) << "not after 30 s";
  EXPECT_EQ(broker_->header().futex_word.load(), word) << "a consumer's wake-up writes nothing";
  EXPECT_EQ(broker_->header().futex_waiters.load(), 1u);

  // The producer's wake-up bumps the word.
  wake_waiters(*producer_);
  EXPECT_EQ(broker_->header().futex_word.load(), word + 1);
}

// The futex path's handshake under ping-pong: the consumer waits for frame
// k with no timeout to hide behind (10 s: only a lost wake-up gets there),
// the producer writes frame k once frame k-1 was seen, after a random pause,
// so that many writes land between the consumer's last look and its sleep.
TEST_F(PoolRingTest, NoWakeUpIsLostUnderPingPong) {
  make_pool(8, 4);
  broker_->header().futex_waiters.store(1);  // the daemon's count: one subscriber
  constexpr uint64_t kFrames = 20000;
  std::atomic<uint64_t> seen{0};
  std::atomic<bool> lost{false};
  std::thread consumer([&] {
    for (uint64_t k = 1; k <= kFrames && !lost.load(); ++k) {
      const uint64_t latest = wait_for_seq_after(*consumer_, k - 1, std::chrono::seconds(10));
      if (latest < k) lost = true;
      seen.store(latest);
      k = latest;
    }
  });
  std::mt19937 rng(7);
  for (uint64_t k = 1; k <= kFrames && !lost.load(); ++k) {
    while (seen.load() < k - 1 && !lost.load()) std::this_thread::yield();
    switch (rng() % 4) {
      case 0: break;
      case 1: for (int i = 0; i < 50; ++i) cpu_relax(); break;
      case 2: std::this_thread::yield(); break;
      case 3: std::this_thread::sleep_for(std::chrono::microseconds(20)); break;
    }
    put();
  }
  consumer.join();
  EXPECT_FALSE(lost.load()) << "a put's wake-up was lost at frame " << seen.load() + 1;
  EXPECT_EQ(seen.load(), kFrames);
}

// Without subscribers counted, a publish costs no system call, and nothing a
// consumer does while it waits changes that.
TEST_F(PoolRingTest, WaitingConsumersLeaveTheWaiterCountToTheDaemon) {
  make_pool(8, 2);
  std::atomic<bool> stop{false};
  std::thread waiter([&] { wait_for_seq_after(*consumer_, 100, std::chrono::seconds(30), &stop); });
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  EXPECT_EQ(broker_->header().futex_waiters.load(), 0u);
  put();
  EXPECT_EQ(broker_->header().futex_waiters.load(), 0u);
  stop = true;
  wake_waiters(*producer_);  // bumps the word: the waiter cannot miss it
  waiter.join();
  EXPECT_EQ(broker_->header().futex_waiters.load(), 0u);
}

TEST_F(PoolRingTest, MappingsKnowTheirFileAndRole) {
  make_pool(8, 2);
  EXPECT_EQ(broker_->role(), PoolMapping::Role::kBroker);
  EXPECT_EQ(producer_->role(), PoolMapping::Role::kProducer);
  EXPECT_EQ(consumer_->role(), PoolMapping::Role::kConsumer);
  EXPECT_EQ(broker_->identity(), *broker_->file().identity());
  EXPECT_EQ(producer_->identity(), broker_->identity());
  EXPECT_EQ(consumer_->identity(), broker_->identity());
  EXPECT_TRUE(broker_->file().sealed_against_resize());
  EXPECT_TRUE(producer_->file().writable());
  EXPECT_FALSE(consumer_->file().writable()) << "consumers get a read-only descriptor";
  EXPECT_EQ(broker_->generation(), kGeneration);
  EXPECT_EQ(broker_->header().generation, kGeneration);
  EXPECT_EQ(layout_.shm_name, md_.shm_name);
  EXPECT_EQ(*broker_->file().size(), layout_.segment_size);
  EXPECT_EQ(broker_->file().name(), "memfd:" + md_.shm_name);
}

TEST_F(PoolRingTest, OpenRefusesAnotherGenerationOrIdentity) {
  make_pool(8, 2);
  Layout other = layout_;
  other.generation = kGeneration + 1;
  auto r = PoolMapping::open(dup_of(broker_->file()), other, md_, PoolMapping::Role::kConsumer);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(r.status().message().find("generation"), std::string::npos) << r.status().message();

  // Another name: same geometry, another identity.
  PoolMetadata renamed = md_;
  renamed.name = "another";
  r = PoolMapping::open(dup_of(broker_->file()), layout_, renamed, PoolMapping::Role::kConsumer);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("identity"), std::string::npos) << r.status().message();

  // Another geometry than the layout the daemon sent.
  PoolMetadata wider = md_;
  wider.shape = {static_cast<int64_t>(elements_ * 2)};
  ASSERT_TRUE(complete_metadata(&wider, PoolLimits{}).ok());
  r = PoolMapping::open(dup_of(broker_->file()), layout_, wider, PoolMapping::Role::kProducer);
  ASSERT_FALSE(r.ok());
  // ...and a layout that matches it, but memory that records the other.
  Layout wider_layout = compute_layout(wider);
  wider_layout.generation = kGeneration;
  r = PoolMapping::open(dup_of(broker_->file()), wider_layout, wider, PoolMapping::Role::kConsumer);
  ASSERT_FALSE(r.ok());
}

TEST_F(PoolRingTest, OpenRefusesMemoryThatIsNotSealedOrTooSmallOrReadOnly) {
  make_pool(512, 4);
  // Everything right but the seals: anyone holding it could truncate it.
  ShmFile unsealed = copy_of_control(layout_.segment_size, false);
  ASSERT_GE(unsealed.fd(), 0);
  ASSERT_EQ(*unsealed.size(), layout_.segment_size);
  auto r = PoolMapping::open(std::move(unsealed), layout_, md_, PoolMapping::Role::kConsumer);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(r.status().message().find("sealed"), std::string::npos) << r.status().message();

  // Sealed, a valid header, but smaller than the pool: frames past its end
  // would SIGBUS.
  ShmFile small = copy_of_control(layout_.segment_size - 4096, true);
  ASSERT_GE(small.fd(), 0);
  r = PoolMapping::open(std::move(small), layout_, md_, PoolMapping::Role::kConsumer);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("bytes"), std::string::npos) << r.status().message();
  ShmFile header_only = copy_of_control(kHeaderSize, true);
  r = PoolMapping::open(std::move(header_only), layout_, md_, PoolMapping::Role::kProducer);
  ASSERT_FALSE(r.ok());

  // A producer needs a writable descriptor.
  auto ro = broker_->file().reopen_read_only();
  ASSERT_TRUE(ro.ok());
  r = PoolMapping::open(std::move(*ro), layout_, md_, PoolMapping::Role::kProducer);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("read-only"), std::string::npos) << r.status().message();

  // The sealed copy of the full size is accepted: the checks are about the
  // file, not about where it came from.
  ShmFile good = copy_of_control(layout_.segment_size, true);
  r = PoolMapping::open(std::move(good), layout_, md_, PoolMapping::Role::kConsumer);
  EXPECT_TRUE(r.ok()) << r.status().message();
}

TEST_F(PoolRingTest, ReuseOrOpenKeepsOnlyTheSameFileAndGeneration) {
  make_pool(8, 2);
  // The same memory (another descriptor of it) and generation: the mapping a
  // client has is kept, with the views it handed out.
  auto ro = broker_->file().reopen_read_only();
  ASSERT_TRUE(ro.ok());
  auto same = PoolMapping::reuse_or_open(consumer_, std::move(*ro), layout_, md_,
                                         PoolMapping::Role::kConsumer);
  ASSERT_TRUE(same.ok()) << same.status().message();
  EXPECT_EQ(*same, consumer_);

  // Other memory of the same pool and generation: mapped anew.
  auto twin = PoolMapping::create(md_, kGeneration);
  ASSERT_TRUE(twin.ok()) << twin.status().message();
  ro = (*twin)->file().reopen_read_only();
  ASSERT_TRUE(ro.ok());
  auto fresh = PoolMapping::reuse_or_open(consumer_, std::move(*ro), layout_, md_,
                                          PoolMapping::Role::kConsumer);
  ASSERT_TRUE(fresh.ok()) << fresh.status().message();
  EXPECT_NE(*fresh, consumer_);
  EXPECT_EQ((*fresh)->identity(), (*twin)->identity());

  // The same memory under another generation: not the mapping, and the
  // memory does not record that generation either.
  Layout next = layout_;
  next.generation = kGeneration + 1;
  ro = broker_->file().reopen_read_only();
  ASSERT_TRUE(ro.ok());
  auto r = PoolMapping::reuse_or_open(consumer_, std::move(*ro), next, md_,
                                      PoolMapping::Role::kConsumer);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("generation"), std::string::npos) << r.status().message();

  // Nothing mapped yet: open.
  ro = broker_->file().reopen_read_only();
  ASSERT_TRUE(ro.ok());
  auto first = PoolMapping::reuse_or_open(nullptr, std::move(*ro), layout_, md_,
                                          PoolMapping::Role::kConsumer);
  ASSERT_TRUE(first.ok()) << first.status().message();
  EXPECT_NE(*first, consumer_);
  EXPECT_EQ((*first)->identity(), consumer_->identity());
}

// A consumer's mapping is read-only down to the descriptor: a write faults,
// whatever it targets, and mprotect cannot make the mapping writable.
TEST_F(PoolRingTest, ConsumerCannotWriteAnything) {
  make_pool(1024, 2);
  put();
  PoolHeader& h = consumer_->header();
  SlotHeader& slot = consumer_->slot(0);
  char* frame = const_cast<char*>(consumer_->frame(0));
  const std::vector<std::pair<const char*, std::function<void()>>> writes = {
      {"futex_waiters", [&] { h.futex_waiters.store(1); }},
      {"futex_word", [&] { h.futex_word.fetch_add(1); }},
      {"latest_seq", [&] { h.latest_seq.store(99); }},
      {"producer_pid", [&] { h.producer_pid.store(1); }},
      {"slot lock", [&] { slot.lock.store(1); }},
      {"frame", [&] { *frame = 1; }},
  };
  for (const auto& [what, write] : writes) {
    const int status = in_child(write);
    EXPECT_TRUE(died_of(status, SIGSEGV)) << "writing " << what << ": wait status " << status;
  }
  EXPECT_EQ(broker_->header().futex_waiters.load(), 0u);
  EXPECT_EQ(broker_->header().latest_seq.load(), 1u);

  errno = 0;
  EXPECT_EQ(::mprotect(&h, kHeaderSize, PROT_READ | PROT_WRITE), -1);
  EXPECT_EQ(errno, EACCES);
  errno = 0;
  EXPECT_EQ(::mprotect(frame, 4096, PROT_READ | PROT_WRITE), -1);
  EXPECT_EQ(errno, EACCES);

  // The producer's mapping, for contrast, is writable (in the child only).
  EXPECT_EQ(in_child([&] { producer_->header().futex_word.fetch_add(0); }), 0);
}

TEST(ProcessAliveTest, SeesLiveDeadAndZombie) {
  EXPECT_TRUE(process_alive(::getpid()));
  EXPECT_FALSE(process_alive(0));
  EXPECT_FALSE(process_alive(dead_pid()));
  pid_t pid;
  char* argv[] = {const_cast<char*>("/bin/true"), nullptr};
  ASSERT_EQ(posix_spawn(&pid, "/bin/true", nullptr, nullptr, argv, environ), 0);
  // Not reaped yet: a zombie once it exits, which writes no more.
  bool zombie_seen_dead = false;
  for (int i = 0; i < 2000 && !zombie_seen_dead; ++i) {
    zombie_seen_dead = !process_alive(pid);
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  EXPECT_TRUE(zombie_seen_dead);
  int status;
  waitpid(pid, &status, 0);
}

TEST(Seqlock, ReaderSeesWriteInProgressAndCompletion) {
  SlotHeader slot{};
  const uint64_t begin = slot_read_begin(slot);
  EXPECT_TRUE(slot_read_valid(slot, begin));
  const uint64_t odd = slot_write_begin(slot);
  EXPECT_EQ(odd & 1, 1u);
  EXPECT_FALSE(slot_read_valid(slot, begin)) << "a write started after the read began";
  EXPECT_FALSE(slot_read_valid(slot, slot_read_begin(slot))) << "odd: write in progress";
  slot_write_end(slot, odd, 7, 99);
  const uint64_t after = slot_read_begin(slot);
  EXPECT_TRUE(slot_read_valid(slot, after));
  EXPECT_EQ(slot.frame_seq.load(), 7u);
  EXPECT_EQ(slot.timestamp_ns.load(), 99);
}

TEST(Seqlock, WriterMovesPastACounterLeftOddByADeadWriter) {
  SlotHeader slot{};
  slot_write_begin(slot);  // the writer "dies" here: counter stays odd
  const uint64_t odd = slot_write_begin(slot);
  EXPECT_EQ(odd & 1, 1u);
  slot_write_end(slot, odd, 2, 0);
  EXPECT_EQ(slot.lock.load() & 1, 0u);
  EXPECT_TRUE(slot_read_valid(slot, slot_read_begin(slot)));
}

TEST(Seqlock, ConcurrentReaderNeverSeesATornFrame) {
  SlotHeader slot{};
  constexpr size_t kWords = 512;
  std::vector<uint64_t> data(kWords, 0);
  std::atomic<bool> stop{false};
  std::thread writer([&] {
    for (uint64_t seq = 1; !stop.load(std::memory_order_relaxed); ++seq) {
      const uint64_t odd = slot_write_begin(slot);
      for (auto& w : data)
        reinterpret_cast<std::atomic<uint64_t>&>(w).store(seq, std::memory_order_relaxed);
      slot_write_end(slot, odd, seq, 0);
      // Off the CPU only between writes: when reader and writer share one core
      // (a loaded machine, ASan), a writer preempted mid-write would leave the
      // counter odd for the reader's whole time slice, and no read could succeed.
      std::this_thread::yield();
    }
  });
  uint64_t consistent = 0;
  std::vector<uint64_t> copy(kWords);
  for (int i = 0; i < 200000 && consistent < 2000; ++i) {
    const uint64_t begin = slot_read_begin(slot);
    for (size_t w = 0; w < kWords; ++w) {
      copy[w] = reinterpret_cast<std::atomic<uint64_t>&>(data[w]).load(std::memory_order_relaxed);
    }
    if (!slot_read_valid(slot, begin)) continue;
    ++consistent;
    for (size_t w = 1; w < kWords; ++w) ASSERT_EQ(copy[w], copy[0]) << "torn read accepted";
  }
  stop = true;
  writer.join();
  EXPECT_GT(consistent, 0u);
}

}  // namespace
}  // namespace tensoripc
