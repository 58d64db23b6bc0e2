// The client library against the real tensor-ipcd, with producers and
// consumers in separate processes where it matters.
#include <unistd.h>

#include <cstring>
#include <mutex>
#include <thread>

#include "client_fixture.h"
#include "frame_pattern.h"

namespace tensoripc::testing {
namespace {

std::vector<uint8_t> frame_bytes(size_t n, uint64_t seq) {
  std::vector<uint8_t> f(n);
  fill_test_frame(f.data(), n, seq);
  return f;
}

TensorView as_view(const std::vector<uint8_t>& f) {
  return TensorView(f.data(), DType::kUInt8, {static_cast<int64_t>(f.size())});
}

// Every frame a producer process publishes reaches consumer processes intact.
TEST_F(ClientTest, FramesArriveIntactInEveryConsumerProcess) {
  const int64_t bytes = 256 * 1024;
  auto stream = start_consumer("intact", bytes, 8, "stream");
  auto futex = start_consumer("intact", bytes, 8, "futex");
  auto getter = start_consumer("intact", bytes, 8, "get", {"--get-history", "4"});
  auto producer = start_producer("intact", bytes, 8, {"--frames", "300", "--interval-us", "2000"});
  ASSERT_TRUE(producer->wait_for_line("DONE", seconds(60)));
  expect_clean_exit(*producer);
  std::this_thread::sleep_for(milliseconds(300));  // let the last events arrive
  for (auto* c : {stream.get(), futex.get(), getter.get()}) {
    auto r = finish_consumer(*c);
    EXPECT_EQ(r["torn"], 0u);
    EXPECT_EQ(r["order_errors"], 0u);
    EXPECT_GT(r["intact"], 0u);
    EXPECT_EQ(r["last_seq"], 300u);
  }
}

TEST_F(ClientTest, FourConsumersAtOnceEachSeeEveryFrame) {
  const int64_t bytes = 64 * 1024;
  std::vector<std::unique_ptr<ChildProcess>> consumers;
  for (int i = 0; i < 4; ++i) {
    consumers.push_back(start_consumer("four", bytes, 16, i % 2 ? "futex" : "stream"));
  }
  auto producer = start_producer("four", bytes, 16, {"--frames", "200", "--interval-us", "3000"});
  ASSERT_TRUE(producer->wait_for_line("DONE", seconds(60)));
  expect_clean_exit(*producer);
  std::this_thread::sleep_for(milliseconds(300));
  for (auto& c : consumers) {
    auto r = finish_consumer(*c);
    EXPECT_EQ(r["torn"], 0u);
    EXPECT_EQ(r["order_errors"], 0u);
    EXPECT_EQ(r["last_seq"], 200u);
    // At 333 Hz and keep_last 64 nothing should be skipped on this machine,
    // but a loaded CI box may drop stream events: demand most of them.
    EXPECT_GE(r["intact"], 150u) << "consumer saw only " << r["intact"] << " of 200 frames";
  }
}

// A stream consumer whose callback is slower than the producer: the daemon
// keeps one event for it (keep_last 1) and drops the rest, but every frame
// is still in the ring (history 128), so the consumer fills each gap from
// the ring and its callback gets every frame, in order, and nothing counts
// as dropped or skipped.
TEST_F(ClientTest, AStreamConsumerFillsDroppedEventsFromTheRing) {
  const int64_t bytes = 4096;
  std::mutex mu;
  std::vector<uint64_t> seqs;
  uint64_t bad = 0;
  ConsumerOptions options = consumer_options();
  options.keep_last = 1;
  options.on_new_data = [&](const Frame& f) {
    uint64_t seq = 0;
    const bool intact = check_test_frame(f.tensor.data_as<uint8_t>(), f.tensor.nbytes(), &seq) ==
                        FrameCheck::kIntact;
    {
      std::lock_guard<std::mutex> lock(mu);
      seqs.push_back(f.seq);
      if (!intact || seq != f.seq) ++bad;
    }
    std::this_thread::sleep_for(milliseconds(2));  // slower than the producer
  };
  Consumer consumer(PoolMetadata::create("catchup", {bytes}, DType::kUInt8, 128), options);
  auto producer =
      start_producer("catchup", bytes, 128, {"--frames", "100", "--interval-us", "100", "--hold"});
  ASSERT_TRUE(producer->wait_for_line("DONE 100", seconds(60)));
  ASSERT_TRUE(eventually([&] {
    std::lock_guard<std::mutex> lock(mu);
    return !seqs.empty() && seqs.back() == 100;
  }, seconds(20)));
  const ConsumerStatus st = consumer.status();
  consumer.cleanup();
  std::vector<uint64_t> all(100);
  for (uint64_t i = 0; i < 100; ++i) all[i] = i + 1;
  std::lock_guard<std::mutex> lock(mu);
  EXPECT_EQ(seqs, all);
  EXPECT_EQ(bad, 0u);
  EXPECT_EQ(st.dropped, 0u);
  EXPECT_EQ(st.skipped, 0u);
  producer->signal(SIGKILL);
}

TEST_F(ClientTest, HistoryOrderLatestFirstAndZerosBeyondWhatWasWritten) {
  const size_t n = 4096;
  Producer producer(PoolMetadata::create("hist", {static_cast<int64_t>(n)}, DType::kUInt8, 8),
                    producer_options());
  Consumer consumer(PoolMetadata::create("hist", {static_cast<int64_t>(n)}, DType::kUInt8, 8),
                    consumer_options());
  EXPECT_FALSE(consumer.get().has_value()) << "no frame yet: nothing to return";
  for (uint64_t s = 1; s <= 3; ++s) {
    const PutResult r = producer.put(as_view(frame_bytes(n, s)));
    EXPECT_EQ(r.seq, s);
    EXPECT_EQ(r.frame_index, s % 8);
    EXPECT_EQ(r.slot, r.frame_index);
  }
  // History longer than the frames written: the rest are zeros.
  auto h = consumer.read(6, true);
  ASSERT_TRUE(h.has_value());
  EXPECT_EQ(h->tensor.shape(), (Shape{6, static_cast<int64_t>(n)}));
  EXPECT_EQ(h->seqs, (std::vector<uint64_t>{3, 2, 1, 0, 0, 0}));
  for (size_t i = 0; i < 6; ++i) {
    uint64_t seq;
    const auto* f = h->tensor.data_as<uint8_t>() + i * n;
    EXPECT_EQ(check_test_frame(f, n, &seq), i < 3 ? FrameCheck::kIntact : FrameCheck::kZero);
    EXPECT_EQ(seq, h->seqs[i]);
  }
  for (uint64_t s = 4; s <= 11; ++s) producer.put(as_view(frame_bytes(n, s)));
  h = consumer.read(8, false);
  EXPECT_EQ(h->seqs, (std::vector<uint64_t>{4, 5, 6, 7, 8, 9, 10, 11}));
  auto latest = consumer.get();
  ASSERT_TRUE(latest.has_value());
  EXPECT_EQ(latest->shape(), (Shape{static_cast<int64_t>(n)}));  // frame shape for 1
  uint64_t seq;
  EXPECT_EQ(check_test_frame(latest->data_as<uint8_t>(), n, &seq), FrameCheck::kIntact);
  EXPECT_EQ(seq, 11u);
  auto two = consumer.get(2, true);
  EXPECT_EQ(two->shape(), (Shape{2, static_cast<int64_t>(n)}));
  EXPECT_THROW(consumer.get(9), InvalidArgumentError);
  EXPECT_THROW(consumer.get(0), InvalidArgumentError);
}

TEST_F(ClientTest, ZeroCopyViewIsValidUntilOverwritten) {
  const size_t n = 1024;
  Producer producer(PoolMetadata::create("view", {static_cast<int64_t>(n)}, DType::kUInt8, 2),
                    producer_options());
  Consumer consumer(PoolMetadata::create("view", {static_cast<int64_t>(n)}, DType::kUInt8, 2),
                    consumer_options());
  EXPECT_FALSE(consumer.view().has_value());
  producer.put(as_view(frame_bytes(n, 1)));
  auto v = consumer.view();
  ASSERT_TRUE(v.has_value());
  EXPECT_EQ(v->seq(), 1u);
  uint64_t seq;
  EXPECT_EQ(check_test_frame(v->tensor().data_as<uint8_t>(), n, &seq), FrameCheck::kIntact);
  EXPECT_TRUE(v->still_valid());
  producer.put(as_view(frame_bytes(n, 2)));
  EXPECT_TRUE(v->still_valid());
  producer.put(as_view(frame_bytes(n, 3)));  // lands on seq 1's slot
  EXPECT_FALSE(v->still_valid());
  // DLPack of a view: the capsule keeps the mapping after the consumer is gone.
  auto latest = consumer.view();
  ASSERT_TRUE(latest.has_value());
  DLManagedTensor* m = latest->to_dlpack();
  latest.reset();
  consumer.cleanup();
  EXPECT_EQ(check_test_frame(static_cast<const uint8_t*>(m->dl_tensor.data), n, &seq),
            FrameCheck::kIntact);
  EXPECT_EQ(seq, 3u);
  m->deleter(m);
}

// get() hands out recycled buffers: a tensor the caller still holds (or has
// exported as DLPack) is never reused under it.
TEST_F(ClientTest, GetNeverReusesABufferStillHeld) {
  const size_t bytes = 4096;
  const auto md = PoolMetadata::create("held", {static_cast<int64_t>(bytes)}, DType::kUInt8, 1);
  Producer producer(md, producer_options());
  Consumer consumer(md, consumer_options());
  std::vector<Tensor> held;
  std::vector<DLManagedTensor*> exported;
  for (uint64_t seq = 1; seq <= 12; ++seq) {
    producer.put(as_view(frame_bytes(bytes, seq)));
    auto t = consumer.get();
    ASSERT_TRUE(t.has_value());
    if (seq % 2 == 0) {
      held.push_back(std::move(*t));  // kept: its buffer must stay frame seq's
    } else if (seq % 3 == 0) {
      exported.push_back(t->to_dlpack());  // the Tensor goes, the export stays
    }
    for (size_t i = 0; i < held.size(); ++i) {
      uint64_t got = 0;
      ASSERT_EQ(check_test_frame(held[i].data_as<uint8_t>(), bytes, &got), FrameCheck::kIntact);
      EXPECT_EQ(got, 2 * (i + 1)) << "a held tensor was overwritten by get() of frame " << seq;
    }
    for (size_t i = 0; i < exported.size(); ++i) {
      uint64_t got = 0;
      ASSERT_EQ(
          check_test_frame(static_cast<const uint8_t*>(exported[i]->dl_tensor.data), bytes, &got),
          FrameCheck::kIntact);
      EXPECT_EQ(got, i == 0 ? 3u : 9u) << "an exported tensor was overwritten at frame " << seq;
    }
  }
  for (DLManagedTensor* m : exported) m->deleter(m);
}

// get_into() and read_into(): the copying read into the caller's tensor or
// memory, reusing it when it fits.
TEST_F(ClientTest, GetIntoReusesTheCallersBufferAndReadIntoChecksItsSize) {
  const size_t bytes = 4096;
  const auto md = PoolMetadata::create("into", {static_cast<int64_t>(bytes)}, DType::kUInt8, 3);
  Consumer consumer(md, consumer_options());
  Producer producer(md, producer_options());
  ASSERT_TRUE(eventually([&] { return consumer.status().state == PoolState::kLive; }));

  // No frame yet: false, and the tensor is left as it was.
  Tensor t(DType::kFloat32, {2});
  const void* before = t.data();
  EXPECT_FALSE(consumer.get_into(t));
  EXPECT_EQ(t.data(), before);
  EXPECT_EQ(t.dtype(), DType::kFloat32);
  std::vector<uint8_t> dst(3 * bytes, 0xAB);
  EXPECT_EQ(consumer.read_into(dst.data(), dst.size()), 0u);
  EXPECT_EQ(dst[0], 0xAB);

  producer.put(as_view(frame_bytes(bytes, 1)));
  // The wrong dtype and shape: replaced by the frame.
  ASSERT_TRUE(consumer.get_into(t));
  EXPECT_EQ(t.dtype(), DType::kUInt8);
  EXPECT_EQ(t.shape(), (Shape{static_cast<int64_t>(bytes)}));
  uint64_t seq = 0;
  EXPECT_EQ(check_test_frame(t.data_as<uint8_t>(), bytes, &seq), FrameCheck::kIntact);
  EXPECT_EQ(seq, 1u);
  // Now it fits: the same buffer, the new frame.
  const void* buffer = t.data();
  producer.put(as_view(frame_bytes(bytes, 2)));
  ASSERT_TRUE(consumer.get_into(t));
  EXPECT_EQ(t.data(), buffer);
  EXPECT_EQ(check_test_frame(t.data_as<uint8_t>(), bytes, &seq), FrameCheck::kIntact);
  EXPECT_EQ(seq, 2u);

  // History: [3, bytes], latest first or oldest first; the one frame never
  // written reads as zeros.
  ASSERT_TRUE(consumer.get_into(t, 3));
  EXPECT_EQ(t.shape(), (Shape{3, static_cast<int64_t>(bytes)}));
  const auto* p = t.data_as<uint8_t>();
  EXPECT_EQ(check_test_frame(p, bytes, &seq), FrameCheck::kIntact);
  EXPECT_EQ(seq, 2u);
  EXPECT_EQ(check_test_frame(p + bytes, bytes, &seq), FrameCheck::kIntact);
  EXPECT_EQ(seq, 1u);
  EXPECT_EQ(check_test_frame(p + 2 * bytes, bytes, &seq), FrameCheck::kZero);
  const void* history_buffer = t.data();
  producer.put(as_view(frame_bytes(bytes, 3)));
  ASSERT_TRUE(consumer.get_into(t, 3, /*latest_first=*/false));
  EXPECT_EQ(t.data(), history_buffer);
  for (uint64_t i = 0; i < 3; ++i) {
    EXPECT_EQ(check_test_frame(t.data_as<uint8_t>() + i * bytes, bytes, &seq), FrameCheck::kIntact);
    EXPECT_EQ(seq, i + 1);
  }

  // read_into: the latest seq; a destination too small is refused.
  EXPECT_EQ(consumer.read_into(dst.data(), dst.size(), 2), 3u);
  EXPECT_EQ(check_test_frame(dst.data(), bytes, &seq), FrameCheck::kIntact);
  EXPECT_EQ(seq, 3u);
  EXPECT_EQ(check_test_frame(dst.data() + bytes, bytes, &seq), FrameCheck::kIntact);
  EXPECT_EQ(seq, 2u);
  EXPECT_EQ(dst[2 * bytes], 0xAB) << "read_into wrote past two frames";
  EXPECT_THROW(consumer.read_into(dst.data(), 2 * bytes - 1, 2), InvalidArgumentError);
  EXPECT_THROW(consumer.read_into(nullptr, dst.size()), InvalidArgumentError);
  EXPECT_THROW(consumer.get_into(t, 4), InvalidArgumentError);
  EXPECT_THROW(consumer.get_into(t, 0), InvalidArgumentError);
  EXPECT_THROW(consumer.read_into(dst.data(), dst.size(), 4), InvalidArgumentError);
}

TEST_F(ClientTest, LazyConnectConsumerFirstProducerLater) {
  const int64_t bytes = 4096;
  std::vector<LifecycleEvent> events;
  std::mutex mu;
  ConsumerOptions o = consumer_options();
  o.on_lifecycle = [&](const LifecycleEvent& e) {
    std::lock_guard<std::mutex> lock(mu);
    events.push_back(e);
  };
  Consumer consumer(PoolMetadata::create("lazy", {bytes}, DType::kUInt8, 4), o);
  EXPECT_EQ(consumer.status().state, PoolState::kWaitingForProducer);
  EXPECT_FALSE(consumer.get().has_value());
  EXPECT_FALSE(consumer.wait_for_frame(milliseconds(50)));

  auto producer = start_producer("lazy", bytes, 4, {"--frames", "5"});
  ASSERT_TRUE(producer->wait_for_line("DONE", seconds(20)));
  ASSERT_TRUE(eventually([&] { return consumer.get().has_value(); }));
  auto h = consumer.read(1);
  EXPECT_EQ(h->seqs[0], 5u);
  uint64_t seq;
  EXPECT_EQ(check_test_frame(h->tensor.data_as<uint8_t>(), bytes, &seq), FrameCheck::kIntact);
  std::lock_guard<std::mutex> lock(mu);
  ASSERT_FALSE(events.empty());
  EXPECT_EQ(events.front().state, PoolState::kWaitingForProducer);
}

TEST_F(ClientTest, SecondProducerIsRefusedNamingTheHolder) {
  auto holder = start_producer("taken", 4096, 2, {"--frames", "1", "--hold"});
  ASSERT_TRUE(holder->wait_for_line("DONE", seconds(20)));
  try {
    Producer second(PoolMetadata::create("taken", {4096}, DType::kUInt8, 2), producer_options());
    FAIL() << "a second producer must be refused";
  } catch (const TopicTakenError& e) {
    EXPECT_EQ(e.holder_pid(), holder->pid());
    EXPECT_EQ(e.topic(), "taken");
    EXPECT_NE(std::string(e.what()).find(std::to_string(holder->pid())), std::string::npos)
        << e.what();
  }
  // Another process is refused the same way.
  std::string line;
  auto other = start_producer("taken", 4096, 2, {"--frames", "1"}, &line);
  EXPECT_EQ(line.rfind("ERROR TopicTaken", 0), 0u) << line;
  EXPECT_NE(line.find(std::to_string(holder->pid())), std::string::npos) << line;
}

TEST_F(ClientTest, MetadataMismatchIsAClearError) {
  Producer producer(PoolMetadata::create("mm", {480, 640, 3}, DType::kUInt8, 2),
                    producer_options());
  try {
    Consumer c(PoolMetadata::create("mm", {480, 640}, DType::kUInt8, 2), consumer_options());
    FAIL() << "a consumer expecting another shape must be refused";
  } catch (const MetadataMismatchError& e) {
    const std::string m = e.what();
    EXPECT_NE(m.find("[480, 640, 3]"), std::string::npos) << m;
    EXPECT_NE(m.find("[480, 640]"), std::string::npos) << m;
  }
  EXPECT_THROW(
      Consumer(PoolMetadata::create("mm", {480, 640, 3}, DType::kFloat32, 2), consumer_options()),
      MetadataMismatchError);
  EXPECT_THROW(
      Consumer(PoolMetadata::create("mm", {480, 640, 3}, DType::kUInt8, 3), consumer_options()),
      MetadataMismatchError);
  // Less history than the pool is fine: reads are bounded by the consumer's.
  std::vector<uint8_t> frame(480 * 640 * 3, 7);
  producer.put(TensorView(frame.data(), DType::kUInt8, {480, 640, 3}));
  Consumer shallow(PoolMetadata::create("mm", {480, 640, 3}, DType::kUInt8, 1), consumer_options());
  auto got = shallow.get();
  ASSERT_TRUE(got);
  EXPECT_EQ(got->data_as<uint8_t>()[0], 7);
  EXPECT_EQ(shallow.metadata().history_len, 2u) << "the pool's metadata, once attached";
  EXPECT_THROW(shallow.get(2), InvalidArgumentError);
  // backend_type is not identity: a torch consumer reads a numpy pool.
  PoolMetadata torch = PoolMetadata::create("mm", {480, 640, 3}, DType::kUInt8, 2);
  torch.backend_type = "torch";
  EXPECT_NO_THROW(Consumer(torch, consumer_options()));
}

TEST_F(ClientTest, MismatchDiscoveredLaterPutsTheConsumerInError) {
  Consumer consumer(PoolMetadata::create("later", {8}, DType::kFloat32, 2), consumer_options());
  Producer producer(PoolMetadata::create("later", {9}, DType::kFloat32, 2), producer_options());
  ASSERT_TRUE(eventually([&] { return consumer.status().state == PoolState::kError; }));
  EXPECT_NE(consumer.status().error.find("[9]"), std::string::npos) << consumer.status().error;
  EXPECT_THROW(consumer.get(), StateError);
}

TEST_F(ClientTest, PutWithWrongDtypeShapeOrMemoryKindWritesNothing) {
  Producer producer(PoolMetadata::create("wrong", {2, 3}, DType::kFloat32, 2), producer_options());
  Consumer consumer(PoolMetadata::create("wrong", {2, 3}, DType::kFloat32, 2), consumer_options());
  std::vector<double> f64(6);
  std::vector<float> f32(6, 1.0f);
  auto expect_refused = [&](const TensorView& v, const std::string& needle) {
    try {
      producer.put(v);
      ADD_FAILURE() << "put must refuse " << needle;
    } catch (const InvalidArgumentError& e) {
      EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
      EXPECT_NE(std::string(e.what()).find("nothing was written"), std::string::npos);
    }
  };
  expect_refused(TensorView(f64.data(), DType::kFloat64, {2, 3}), "float64");
  expect_refused(TensorView(f32.data(), DType::kFloat32, {3, 2}), "[3, 2]");
  expect_refused(TensorView(f32.data(), DType::kFloat32, {6}), "[6]");
  expect_refused(TensorView(f32.data(), DType::kFloat32, {2, 3}, Device::cuda(0)), "cuda:0");
  expect_refused(TensorView(nullptr, DType::kFloat32, {2, 3}), "null");
  EXPECT_EQ(producer.latest_seq(), 0u);
  EXPECT_FALSE(consumer.get().has_value());
  EXPECT_EQ(producer.put(TensorView(f32.data(), DType::kFloat32, {2, 3})).seq, 1u);
  EXPECT_EQ(consumer.get()->data_as<float>()[5], 1.0f);
}

TEST_F(ClientTest, UnreachableDaemonNamesTheSocketAndWhatToDo) {
  ProducerOptions o;
  o.socket_path = "/nonexistent/tensor-ipcd.sock";
  o.connect_timeout = milliseconds(200);
  try {
    Producer p(PoolMetadata::create("x", {1}, DType::kUInt8), o);
    FAIL();
  } catch (const DaemonUnavailableError& e) {
    const std::string m = e.what();
    EXPECT_EQ(e.socket_path(), o.socket_path);
    EXPECT_NE(m.find(o.socket_path), std::string::npos) << m;
    EXPECT_NE(m.find("tensor-ipcd"), std::string::npos) << m;
    EXPECT_NE(m.find("TENSOR_IPC_SOCKET"), std::string::npos) << m;
  }
  ConsumerOptions c;
  c.socket_path = o.socket_path;
  c.connect_timeout = milliseconds(200);
  EXPECT_THROW(Consumer(PoolMetadata::create("x", {1}, DType::kUInt8), c), DaemonUnavailableError);
}

// No socket file: no daemon to wait for. The error comes without waiting out
// a long connect timeout, and says the socket does not exist.
TEST_F(ClientTest, AMissingSocketIsReportedWithoutWaitingOutTheTimeout) {
  ProducerOptions o;
  o.socket_path = "/nonexistent/tensor-ipcd.sock";
  o.connect_timeout = std::chrono::seconds(120);
  const auto start = std::chrono::steady_clock::now();
  try {
    Producer p(PoolMetadata::create("x", {1}, DType::kUInt8), o);
    FAIL();
  } catch (const DaemonUnavailableError& e) {
    EXPECT_NE(std::string(e.what()).find("the socket does not exist"), std::string::npos)
        << e.what();
  }
  // Generous: not a latency goal, only "did not wait for the 120 s".
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(60));
}

TEST_F(ClientTest, InvalidMetadataIsRefusedBeforeTheDaemon) {
  EXPECT_THROW(Producer(PoolMetadata{}, producer_options()), InvalidArgumentError);
  PoolMetadata big = PoolMetadata::create("big", {1 << 20}, DType::kUInt8, 1);
  big.shape = {int64_t{1} << 40};  // a terabyte frame: over the daemon's limit
  big.total_size = 0;
  EXPECT_THROW(Producer(big, producer_options()), ResourceExhaustedError);
}

TEST_F(ClientTest, CleanupIsIdempotentAndEndsTheLease) {
  Consumer consumer(PoolMetadata::create("bye", {4}, DType::kInt32, 2), consumer_options());
  Producer producer(PoolMetadata::create("bye", {4}, DType::kInt32, 2), producer_options());
  EXPECT_EQ(producer.metadata().creator_pid, ::getpid());
  EXPECT_FALSE(producer.metadata().shm_name.empty());
  ASSERT_TRUE(eventually([&] { return consumer.status().state == PoolState::kLive; }));
  EXPECT_EQ(consumer.status().producer_pid, ::getpid());
  producer.cleanup();
  producer.cleanup();
  std::vector<int32_t> f(4);
  EXPECT_THROW(producer.put(TensorView(f.data(), DType::kInt32, {4})), StateError);
  ASSERT_TRUE(eventually([&] { return consumer.status().state == PoolState::kProducerGone; }));
  // The topic is free again at once.
  Producer again(PoolMetadata::create("bye", {4}, DType::kInt32, 2), producer_options());
  ASSERT_TRUE(eventually([&] { return consumer.status().state == PoolState::kLive; }));
  consumer.cleanup();
  consumer.cleanup();
  EXPECT_EQ(consumer.status().state, PoolState::kClosed);
  EXPECT_THROW(consumer.get(), StateError);
}

}  // namespace
}  // namespace tensoripc::testing
