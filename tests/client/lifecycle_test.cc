// Producers that come, go and die at any instant; consumers that are told,
// keep reading without blocking, and pick the pool up again. Callbacks on the
// stream and futex paths.
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <condition_variable>
#include <map>
#include <mutex>
#include <random>
#include <thread>

#include "client_fixture.h"
#include "tensoripc/daemon.h"
#include "common/shm.h"
#include "frame_pattern.h"
#include "pool/layout.h"

namespace tensoripc::testing {
namespace {

// Records callbacks: seqs seen and whether every frame was intact.
struct Recorder {
  std::mutex mu;
  std::condition_variable cv;
  std::vector<uint64_t> seqs;
  int torn = 0;
  std::vector<PoolState> states;

  NewDataCallback on_data() {
    return [this](const Frame& f) {
      uint64_t seq = 0;
      const bool intact = check_test_frame(f.tensor.data_as<uint8_t>(), f.tensor.nbytes(), &seq) ==
                              FrameCheck::kIntact &&
                          seq == f.seq;
      std::lock_guard<std::mutex> lock(mu);
      seqs.push_back(f.seq);
      if (!intact) ++torn;
      cv.notify_all();
    };
  }
  LifecycleCallback on_lifecycle() {
    return [this](const LifecycleEvent& e) {
      std::lock_guard<std::mutex> lock(mu);
      states.push_back(e.state);
      cv.notify_all();
    };
  }
  bool wait_for_seq(uint64_t seq, std::chrono::milliseconds timeout) {
    std::unique_lock<std::mutex> lock(mu);
    return cv.wait_for(lock, timeout, [&] { return !seqs.empty() && seqs.back() >= seq; });
  }
  bool wait_for_state(PoolState s, size_t after, std::chrono::milliseconds timeout) {
    std::unique_lock<std::mutex> lock(mu);
    return cv.wait_for(lock, timeout, [&] {
      for (size_t i = after; i < states.size(); ++i) {
        if (states[i] == s) return true;
      }
      return false;
    });
  }
};

class ClientCallbackTest : public ClientTest, public ::testing::WithParamInterface<NotifyPath> {};

TEST_P(ClientCallbackTest, EveryFrameReachesTheCallbackIntactAndInOrder) {
  const int64_t bytes = 32 * 1024;
  Recorder rec;
  ConsumerOptions o = consumer_options();
  o.notify = GetParam();
  o.keep_last = 64;
  o.on_new_data = rec.on_data();
  Consumer consumer(PoolMetadata::create("cb", {bytes}, DType::kUInt8, 16), o);
  auto producer = start_producer("cb", bytes, 16, {"--frames", "100", "--interval-us", "3000"});
  ASSERT_TRUE(producer->wait_for_line("DONE", seconds(30)));
  ASSERT_TRUE(rec.wait_for_seq(100, seconds(10)));
  std::lock_guard<std::mutex> lock(rec.mu);
  EXPECT_EQ(rec.torn, 0);
  for (size_t i = 1; i < rec.seqs.size(); ++i) EXPECT_LT(rec.seqs[i - 1], rec.seqs[i]);
  EXPECT_GE(rec.seqs.size(), 90u) << "callbacks skipped frames at 333 Hz";
}

TEST_P(ClientCallbackTest, CallbackSetAfterConstructionWithoutReadingTheFrame) {
  ConsumerOptions o = consumer_options();
  o.notify = GetParam();
  o.callback_reads_frame = false;
  Consumer consumer(PoolMetadata::create("late_cb", {16}, DType::kUInt8, 4), o);
  Producer producer(PoolMetadata::create("late_cb", {16}, DType::kUInt8, 4), producer_options());
  std::mutex mu;
  std::condition_variable cv;
  std::vector<uint64_t> seen;
  std::map<uint64_t, int64_t> stamps;  // seq -> timestamp_ns the callback got
  bool empty_tensor = true;
  consumer.set_on_new_data([&](const Frame& f) {
    std::lock_guard<std::mutex> lock(mu);
    seen.push_back(f.seq);
    stamps[f.seq] = f.timestamp_ns;
    empty_tensor = empty_tensor && f.tensor.empty();
    cv.notify_all();
  });
  std::vector<uint8_t> frame(16, 7);
  // Live means mapped: every frame from here on is news, on both paths.
  ASSERT_TRUE(eventually([&] { return consumer.status().state == PoolState::kLive; }));
  std::map<uint64_t, int64_t> put_stamps;
  for (int i = 0; i < 3; ++i) {
    const PutResult r = producer.put(TensorView(frame.data(), DType::kUInt8, {16}));
    put_stamps[r.seq] = r.timestamp_ns;
    std::this_thread::sleep_for(milliseconds(5));  // history 4: nothing is overwritten
  }
  std::unique_lock<std::mutex> lock(mu);
  ASSERT_TRUE(cv.wait_for(lock, seconds(5), [&] { return !seen.empty() && seen.back() == 3; }));
  EXPECT_TRUE(empty_tensor);
  // The frame's own stamp, on both paths, although the data was not copied.
  for (const auto& [seq, ts] : stamps) {
    EXPECT_NE(ts, 0) << "frame " << seq;
    EXPECT_EQ(ts, put_stamps[seq]) << "frame " << seq;
  }
}

// The first put follows the constructor's return at once: the futex thread
// may not have run yet, and the frame is news all the same.
TEST_P(ClientCallbackTest, AFramePutAsSoonAsTheConsumerIsBuiltIsDelivered) {
  for (int round = 0; round < 20; ++round) {
    SCOPED_TRACE("round " + std::to_string(round));
    const std::string name = "at_once_" + std::to_string(round);
    const auto md = PoolMetadata::create(name, {16}, DType::kUInt8, 4);
    Producer producer(md, producer_options());
    Recorder rec;
    ConsumerOptions o = consumer_options();
    o.notify = GetParam();
    o.on_new_data = rec.on_data();
    Consumer consumer(md, o);
    std::vector<uint8_t> frame(16);
    fill_test_frame(frame.data(), frame.size(), 1);
    ASSERT_EQ(producer.put(TensorView(frame.data(), DType::kUInt8, {16})).seq, 1u);
    ASSERT_TRUE(rec.wait_for_seq(1, seconds(5)));
    std::lock_guard<std::mutex> lock(rec.mu);
    EXPECT_EQ(rec.seqs, std::vector<uint64_t>{1});
    EXPECT_EQ(rec.torn, 0);
  }
}

// A callback slower than the producer, on a pool of history 1: most frames
// are overwritten before their turn. Every frame published is accounted for:
// delivered, skipped (ConsumerStatus::skipped), or on the stream path
// dropped by the daemon or never announced by the producer.
TEST_P(ClientCallbackTest, SkippedFramesOfASlowCallbackAreCounted) {
  const int64_t bytes = 4096;
  const PoolMetadata md = PoolMetadata::create("slow_cb", {bytes}, DType::kUInt8, 1);
  ConsumerOptions o = consumer_options();
  o.notify = GetParam();
  std::atomic<uint64_t> delivered{0};
  std::atomic<uint64_t> last_seq{0};
  std::atomic<int> bad{0};
  o.on_new_data = [&](const Frame& f) {
    uint64_t seq = 0;
    if (check_test_frame(f.tensor.data_as<uint8_t>(), f.tensor.nbytes(), &seq) !=
            FrameCheck::kIntact ||
        seq != f.seq || f.seq <= last_seq.load()) {
      bad++;
    }
    last_seq = f.seq;
    std::this_thread::sleep_for(milliseconds(2));
    delivered++;
  };
  Consumer consumer(md, o);
  Producer producer(md, producer_options());
  std::vector<uint8_t> frame(bytes);
  auto put = [&] {
    fill_test_frame(frame.data(), frame.size(), producer.latest_seq() + 1);
    producer.put(TensorView(frame.data(), DType::kUInt8, {bytes}));
  };
  ASSERT_TRUE(eventually([&] { return consumer.status().state == PoolState::kLive; }));
  // A first frame, delivered, so that the futex thread is surely watching.
  std::this_thread::sleep_for(milliseconds(50));
  put();
  ASSERT_TRUE(eventually([&] { return delivered.load() == 1; }, seconds(10)));
  // The futex path sees every frame in the ring; the stream path every frame
  // the daemon announced, and the ones it dropped or found overwritten are
  // counted in `dropped`.
  const bool stream = GetParam() == NotifyPath::kStream;
  auto accounted = [&] {
    const ConsumerStatus s = consumer.status();
    return delivered.load() + s.skipped +
           (stream ? s.dropped : uint64_t{0});
  };
  const uint64_t before = accounted();
  const uint64_t kFrames = 300;
  for (uint64_t i = 0; i < kFrames; ++i) {
    put();
    std::this_thread::sleep_for(std::chrono::microseconds(100));
  }
  EXPECT_TRUE(eventually([&] { return accounted() >= before + kFrames; }, seconds(10)));
  std::this_thread::sleep_for(milliseconds(100));  // nothing is counted twice
  const ConsumerStatus s = consumer.status();
  EXPECT_EQ(accounted(), before + kFrames)
      << "delivered " << delivered.load() << ", skipped " << s.skipped << ", dropped "
      << s.dropped;
  EXPECT_GT(s.skipped, 0u) << "the callback kept up; the test tests nothing";
  EXPECT_GE(delivered.load(), 2u);
  EXPECT_EQ(bad.load(), 0);
  std::printf("%llu frames: %llu delivered, %llu skipped, %llu dropped\n",
              (unsigned long long)kFrames + 1, (unsigned long long)delivered.load(),
              (unsigned long long)s.skipped, (unsigned long long)s.dropped);
}

INSTANTIATE_TEST_SUITE_P(Paths, ClientCallbackTest,
                         ::testing::Values(NotifyPath::kStream, NotifyPath::kFutex),
                         [](const auto& info) {
                           return info.param == NotifyPath::kStream ? "Stream" : "Futex";
                         });

TEST_F(ClientTest, WaitForFrameWakesOnEachNewFrame) {
  Consumer consumer(PoolMetadata::create("wait", {64}, DType::kUInt8, 4), consumer_options());
  EXPECT_FALSE(consumer.wait_for_frame(milliseconds(20)));  // no pool yet
  auto producer = start_producer("wait", 64, 4, {"--frames", "3", "--interval-us", "100000"});
  int woken = 0;
  for (int i = 0; i < 3; ++i) woken += consumer.wait_for_frame(seconds(10)) ? 1 : 0;
  EXPECT_GE(woken, 2);  // frames 100 ms apart; the first may coincide with the attach
  ASSERT_TRUE(producer->wait_for_line("DONE", seconds(10)));
  ASSERT_TRUE(eventually([&] { return consumer.status().latest_seq == 3; }));
  consumer.get();
  const auto t0 = std::chrono::steady_clock::now();
  EXPECT_FALSE(consumer.wait_for_frame(milliseconds(50)));  // nothing newer than seen
  EXPECT_GE(std::chrono::steady_clock::now() - t0, milliseconds(50));
}

TEST_F(ClientTest, WaitForFrameFollowsThePoolAcrossARemap) {
  const PoolMetadata md = PoolMetadata::create("remap", {64}, DType::kUInt8, 2);
  std::vector<uint8_t> frame(64, 7);
  auto first = std::make_unique<Producer>(md, producer_options());
  first->put(TensorView(frame.data(), DType::kUInt8, {64}));
  Consumer consumer(md, consumer_options());
  ASSERT_TRUE(eventually([&] { return consumer.get().has_value(); }));  // seen: seq 1

  std::atomic<int> woke{-1};
  std::thread waiter([&] { woke = consumer.wait_for_frame(seconds(20)) ? 1 : 0; });
  // The pool goes (deleted) and comes back as a new segment, new generation:
  // the waiter must follow it instead of sleeping on the old mapping.
  first->cleanup();
  ChildProcess del({TIPC_BROKER_HELPER, daemon_->socket_path(), "remap", "delete"});
  ASSERT_TRUE(del.wait_for_line("DELETED", seconds(10)).has_value());
  ASSERT_TRUE(eventually([&] { return consumer.status().state == PoolState::kRemoved; }));
  Producer second(md, producer_options());
  ASSERT_TRUE(eventually([&] { return consumer.status().state == PoolState::kLive; }));
  second.put(TensorView(frame.data(), DType::kUInt8, {64}));
  waiter.join();
  EXPECT_EQ(woke.load(), 1) << "wait_for_frame slept on the old mapping";
}

TEST_F(ClientTest, PutRefusesWhileTheHeaderNamesAnotherWriter) {
  Producer producer(PoolMetadata::create("writer", {64}, DType::kUInt8, 2), producer_options());
  std::vector<uint8_t> frame(64, 1);
  producer.put(TensorView(frame.data(), DType::kUInt8, {64}));
  ShmFile file = open_process_memfd(daemon_->pid(), producer.metadata().shm_name, true);
  auto map = Mapping::map(file, 0, kHeaderSize, Mapping::Access::kReadWrite, false);
  ASSERT_TRUE(map.ok());
  std::atomic<int32_t>& pid = header_of(map->data())->producer_pid;
  EXPECT_EQ(pid.load(), ::getpid()) << "the daemon marks the granted producer";

  // What a second producer granted during a reconnect looks like: refuse.
  pid.store(::getppid());
  try {
    producer.put(TensorView(frame.data(), DType::kUInt8, {64}));
    ADD_FAILURE() << "put wrote beside another writer";
  } catch (const TopicTakenError& e) {
    EXPECT_EQ(e.holder_pid(), ::getppid());
  }
  EXPECT_EQ(header_of(map->data())->latest_seq.load(), 1u) << "nothing may be written";

  // A lease that lapsed (daemon gone: pid cleared): the producer writes on
  // and marks the pool its own, so readers know the writer lives.
  pid.store(0);
  EXPECT_EQ(producer.put(TensorView(frame.data(), DType::kUInt8, {64})).seq, 2u);
  EXPECT_EQ(pid.load(), ::getpid());
}

TEST_F(ClientTest, ConsumerIsToldOfProducerGoneAndPicksThePoolUpAgain) {
  const int64_t bytes = 8192;
  Recorder rec;
  ConsumerOptions o = consumer_options();
  o.on_new_data = rec.on_data();
  o.on_lifecycle = rec.on_lifecycle();
  Consumer consumer(PoolMetadata::create("again", {bytes}, DType::kUInt8, 4), o);

  auto first = start_producer("again", bytes, 4, {"--frames", "10", "--hold"});
  ASSERT_TRUE(first->wait_for_line("DONE", seconds(20)));
  ASSERT_TRUE(rec.wait_for_seq(10, seconds(10)));
  const size_t before = rec.states.size();
  first->signal(SIGKILL);
  first->wait(seconds(10));
  ASSERT_TRUE(rec.wait_for_state(PoolState::kProducerGone, before, seconds(10)));
  EXPECT_EQ(consumer.status().state, PoolState::kProducerGone);
  // History stays readable while no producer holds the pool.
  auto h = consumer.read(1);
  ASSERT_TRUE(h.has_value());
  EXPECT_EQ(h->seqs[0], 10u);

  const size_t gone = rec.states.size();
  auto second = start_producer("again", bytes, 4, {"--frames", "5"});
  ASSERT_TRUE(second->wait_for_line("DONE", seconds(20)));
  ASSERT_TRUE(rec.wait_for_state(PoolState::kLive, gone, seconds(10)));
  ASSERT_TRUE(rec.wait_for_seq(15, seconds(10))) << "the pool resumes: seqs continue";
  h = consumer.read(4);
  EXPECT_EQ(h->seqs, (std::vector<uint64_t>{15, 14, 13, 12}));
  std::lock_guard<std::mutex> lock(rec.mu);
  EXPECT_EQ(rec.torn, 0);
}

// The producer is SIGKILLed at random instants, mid-put included, again and
// again, while two consumer processes read as fast as they can: no get()
// blocks past a bound and none returns a torn frame.
class ClientKillTest : public ClientTest {
 protected:
  // Whether a slot of the (one) pool is left odd: a producer died mid-put.
  bool slot_left_odd() {
    const auto names = daemon_->segments();
    if (names.size() != 1) return false;
    ShmFile file = open_process_memfd(daemon_->pid(), names[0], false);
    auto map = Mapping::map(file, 0, kHeaderSize + kPageSize, Mapping::Access::kRead, false);
    if (!map.ok()) return false;
    const auto* h = static_cast<const PoolHeader*>(map->data());
    const auto* slots =
        reinterpret_cast<const SlotHeader*>(static_cast<const char*>(map->data()) + kHeaderSize);
    for (uint32_t i = 0; i < h->slot_count && i < kPageSize / kSlotHeaderSize; ++i) {
      if (slots[i].lock.load() & 1) return true;
    }
    return false;
  }
};

TEST_F(ClientKillTest, ProducerKilledAtRandomNeverBlocksOrTearsAConsumer) {
  const int64_t bytes = 1 << 20;  // 1 MiB: a put takes long enough to be hit mid-copy
  const uint32_t history = 2;
  auto c1 = start_consumer("kill", bytes, history, "get", {"--get-history", "1"});
  auto c2 = start_consumer("kill", bytes, history, "get", {"--get-history", "2"});
  std::mt19937 rng(12345);
  std::uniform_int_distribution<int> delay_us(0, 40000);
  int rounds = 0;
  int killed_mid_put = 0;
  const auto end = std::chrono::steady_clock::now() + seconds(20);
  while (std::chrono::steady_clock::now() < end && rounds < 40) {
    auto p = start_producer("kill", bytes, history);  // puts back to back until killed
    std::this_thread::sleep_for(std::chrono::microseconds(delay_us(rng)));
    p->signal(SIGKILL);
    p->wait(seconds(10));
    ++rounds;
    killed_mid_put += slot_left_odd() ? 1 : 0;
  }
  RecordProperty("rounds", rounds);
  RecordProperty("killed_mid_put", killed_mid_put);
  // Else this test would not test what it says.
  EXPECT_GT(killed_mid_put, 0) << "no kill landed mid-put in " << rounds << " rounds";
  for (auto* c : {c1.get(), c2.get()}) {
    auto r = finish_consumer(*c);
    EXPECT_EQ(r["torn"], 0u);
    EXPECT_EQ(r["order_errors"], 0u);
    EXPECT_GT(r["intact"], 0u);
    // The bound: a reader waits for a mid-write slot at most ~50 ms + 2 ms/MB
    // before calling the frame lost, and only on a slot that is being written.
    EXPECT_LT(r["max_get_us"], 500000u) << "a get() blocked";
    std::printf("consumer: %llu gets, %llu intact, %llu zero (lost/unwritten), max get %llu us\n",
                (unsigned long long)r["gets"], (unsigned long long)r["intact"],
                (unsigned long long)r["zero"], (unsigned long long)r["max_get_us"]);
  }
  std::printf("%d producers killed, %d of them mid-put\n", rounds, killed_mid_put);
}

// The daemon restarts (SIGTERM, or SIGKILL: it loses every descriptor)
// under a producer and four consumers: put() keeps working meanwhile, the
// producer hands the pool's memory back to the new daemon, which carries the
// pool on (history, sequence and generation kept), and the consumers
// re-subscribe, keep their mapping (a zero-copy view taken before the restart
// is still valid after it) and their callbacks resume.
class ClientRestartTest : public ClientTest, public ::testing::WithParamInterface<bool> {};

TEST_P(ClientRestartTest, ClientsReconnectAndCarryOn) {
  const int64_t bytes = 4096;
  const uint32_t history = 64;
  const PoolMetadata md = PoolMetadata::create("restart", {bytes}, DType::kUInt8, history);
  Recorder rec;
  ConsumerOptions co = consumer_options();
  co.on_new_data = rec.on_data();
  co.on_lifecycle = rec.on_lifecycle();
  Consumer consumer(md, co);
  std::vector<std::unique_ptr<Consumer>> others;
  for (int i = 0; i < 3; ++i) {
    ConsumerOptions o = consumer_options();
    o.notify = i % 2 ? NotifyPath::kFutex : NotifyPath::kStream;
    others.push_back(std::make_unique<Consumer>(md, o));
  }
  Producer producer(md, producer_options());
  const std::string shm_name = producer.metadata().shm_name;
  std::vector<uint8_t> frame(bytes);
  auto put = [&] {
    fill_test_frame(frame.data(), frame.size(), producer.latest_seq() + 1);
    return producer.put(TensorView(frame.data(), DType::kUInt8, {bytes})).seq;
  };
  for (int i = 0; i < 3; ++i) put();
  ASSERT_TRUE(rec.wait_for_seq(3, seconds(10)));
  std::vector<FrameView> views;
  for (auto& c : others) {
    ASSERT_TRUE(eventually([&] { return c->status().state == PoolState::kLive; }));
    auto v = c->view();
    ASSERT_TRUE(v.has_value());
    EXPECT_EQ(v->seq(), 3u);
    views.push_back(std::move(*v));
  }

  std::atomic<bool> stop{false};
  std::atomic<int> put_errors{0};
  std::thread putter([&] {
    while (!stop) {
      try {
        put();
      } catch (const Error&) {
        put_errors++;
      }
      std::this_thread::sleep_for(milliseconds(2));
    }
  });
  daemon_->restart(/*kill=*/GetParam());
  EXPECT_TRUE(eventually([&] { return producer.connected(); }, seconds(10)));
  EXPECT_TRUE(eventually(
      [&] {
        const ConsumerStatus s = consumer.status();
        return s.connected && s.state == PoolState::kLive;
      },
      seconds(10)));
  const uint64_t after = producer.latest_seq();
  EXPECT_TRUE(rec.wait_for_seq(after + 5, seconds(10))) << "callbacks resume after the restart";
  stop = true;
  putter.join();
  EXPECT_EQ(put_errors, 0);
  EXPECT_EQ(producer.metadata().shm_name, shm_name);
  EXPECT_EQ(daemon_->segments(), std::vector<std::string>{shm_name}) << "one pool, handed back";
  auto h = consumer.read(4);
  ASSERT_TRUE(h.has_value());
  EXPECT_EQ(h->seqs[0], producer.latest_seq());
  EXPECT_EQ(h->seqs[3] + 3, h->seqs[0]);
  for (size_t i = 0; i < others.size(); ++i) {
    EXPECT_TRUE(eventually([&] {
      const ConsumerStatus s = others[i]->status();
      return s.connected && s.state == PoolState::kLive;
    })) << "consumer " << i;
    // Same memory, same generation: the mapping is kept, so a view taken now
    // lies in the same mapping as the one taken before the restart.
    auto now = others[i]->view();
    ASSERT_TRUE(now.has_value());
    const auto* before_data = static_cast<const char*>(views[i].tensor().data());
    const auto* now_data = static_cast<const char*>(now->tensor().data());
    const ptrdiff_t slots = static_cast<ptrdiff_t>(now->seq() % history) -
                            static_cast<ptrdiff_t>(views[i].seq() % history);
    EXPECT_EQ(now_data - before_data, slots * bytes) << "consumer " << i << " remapped";
    // The history spans the restart, without a gap.
    auto last = others[i]->read(8);
    ASSERT_TRUE(last.has_value());
    for (size_t k = 0; k < last->seqs.size(); ++k) {
      EXPECT_EQ(last->seqs[k] + k, last->seqs[0]) << "consumer " << i;
    }
  }
  std::lock_guard<std::mutex> lock(rec.mu);
  EXPECT_EQ(rec.torn, 0);
}

INSTANTIATE_TEST_SUITE_P(Stop, ClientRestartTest, ::testing::Bool(),
                         [](const auto& info) { return info.param ? "Sigkill" : "Sigterm"; });

// A producer process is stopped (SIGSTOP) across a daemon restart, and
// another producer takes the topic meanwhile: once it runs again, its re-claim
// is refused and put() throws TopicTakenError naming the new holder's pid.
TEST_F(ClientTest, ReclaimRefusedAfterARestartNamesTheNewHolder) {
  const int64_t bytes = 4096;
  auto first = start_producer("retaken", bytes, 2, {"--interval-us", "2000"});
  first->signal(SIGSTOP);
  daemon_->restart(/*kill=*/true);
  Producer second(PoolMetadata::create("retaken", {bytes}, DType::kUInt8, 2), producer_options());
  first->signal(SIGCONT);
  const auto line = first->wait_for_line("ERROR", seconds(20));
  ASSERT_TRUE(line.has_value()) << "the first producer's put() never failed";
  EXPECT_EQ(line->rfind("ERROR TopicTaken holder_pid=" + std::to_string(::getpid()) + " ", 0), 0u)
      << *line;
  const auto status = first->wait(seconds(20));
  ASSERT_TRUE(status.has_value());
  EXPECT_TRUE(WIFEXITED(*status) && WEXITSTATUS(*status) == 3) << *status;
}

// A stream-path consumer paused (SIGSTOP, as a debugger would) past the
// daemon's --stall-timeout-ms has its stream ended by the daemon; resumed, it
// subscribes again by itself and gets the frames published after.
TEST_F(ClientTest, AConsumerPausedPastTheStallTimeoutComesBack) {
  daemon_.reset();
  daemon_ = std::make_unique<DaemonProcess>(std::vector<std::string>{"--stall-timeout-ms", "500"});
  const int64_t bytes = 4096;
  Producer producer(PoolMetadata::create("paused", {bytes}, DType::kUInt8, 4), producer_options());
  auto consumer = start_consumer("paused", bytes, 4, "stream");
  DaemonClient daemon(daemon_->socket_path());
  auto subscribed = [&] {
    auto info = daemon.get_pool("paused");
    if (!info) return false;
    for (const SubscriberStats& s : info->stats.subscriber) {
      if (s.pid == consumer->pid()) return true;
    }
    return false;
  };
  ASSERT_TRUE(eventually(subscribed, seconds(10)));
  consumer->signal(SIGSTOP);

  std::vector<uint8_t> frame(bytes);
  uint64_t seq = 0;
  auto put_some = [&](int n) {
    for (int i = 0; i < n; ++i) {
      fill_test_frame(frame.data(), frame.size(), ++seq);
      producer.put(TensorView(frame.data(), DType::kUInt8, Shape({bytes})));
    }
  };
  // Frames until its socket is full and the daemon ends the stream.
  const auto deadline = std::chrono::steady_clock::now() + seconds(60);
  while (subscribed() && std::chrono::steady_clock::now() < deadline) {
    put_some(200);
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  ASSERT_FALSE(subscribed()) << "the daemon kept the paused consumer's stream";

  consumer->signal(SIGCONT);
  ASSERT_TRUE(eventually(subscribed, seconds(20))) << "the consumer did not subscribe again";
  const uint64_t resumed_at = seq;
  // Frames after it came back reach it, in order and intact.
  for (int i = 0; i < 50; ++i) {
    put_some(1);
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  const auto result = finish_consumer(*consumer);
  EXPECT_GT(result.at("last_seq"), resumed_at);
  EXPECT_EQ(result.at("torn"), 0u);
  EXPECT_EQ(result.at("order_errors"), 0u);
}

}  // namespace
}  // namespace tensoripc::testing
