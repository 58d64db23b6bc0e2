// GPU pools across processes, with the real tensor-ipcd.
//
// DevicePoolTest runs on the host double (TENSORIPC_CUDA_BACKEND=host-double,
// client/src/device_api.h): device memory is a memfd that importers open
// through /proc/<exporter>/fd, so it is gone when its exporter dies, as CUDA
// IPC memory is; each process's imports show in /proc/<pid>/maps as
// "memfd:tipc-cuda-double:<pool>", which is how these tests see who holds
// what. RealGpuTest runs the same path on the CUDA runtime and skips, saying
// why, where no GPU is usable.
#include <signal.h>
#include <stdlib.h>

#include <atomic>
#include <cstring>
#include <thread>

#include "client_fixture.h"
#include "frame_pattern.h"
#include "host_double_maps.h"
#include "pool/cuda_memory.h"  // to_hex

namespace tensoripc::testing {
namespace {

constexpr char kBackend[] = "TENSORIPC_CUDA_BACKEND";
constexpr char kDoubleDevices[] = "TENSORIPC_HOST_DOUBLE_DEVICES";

// Long enough for a process's death to reach every consumer under ASan.
constexpr milliseconds kPatience{10000};

PoolMetadata gpu_pool(const std::string& name, int64_t bytes, uint32_t history) {
  return PoolMetadata::create(name, {bytes}, DType::kUInt8, history, "cuda:0");
}

class DevicePoolTest : public ClientTest {
 protected:
  void SetUp() override {
    ::setenv(kBackend, "host-double", 1);  // this process and every child
    ::unsetenv(kDoubleDevices);
    ClientTest::SetUp();
  }
  void TearDown() override {
    ClientTest::TearDown();
    ::unsetenv(kBackend);
    ::unsetenv(kDoubleDevices);
  }

  std::unique_ptr<ChildProcess> start_gpu_producer(const std::string& name, int64_t bytes,
                                                   uint32_t history,
                                                   std::vector<std::string> extra = {}) {
    extra.insert(extra.end(), {"--device", "cuda:0"});
    return start_producer(name, bytes, history, extra);
  }
  std::unique_ptr<ChildProcess> start_gpu_consumer(const std::string& name, int64_t bytes,
                                                   uint32_t history, const std::string& mode,
                                                   std::vector<std::string> extra = {}) {
    extra.insert(extra.end(), {"--device", "cuda:0"});
    return start_consumer(name, bytes, history, mode, extra);
  }
  // The producer's DONE seq.
  static uint64_t wait_done(ChildProcess& producer) {
    auto line = producer.wait_for_line("DONE", seconds(30));
    EXPECT_TRUE(line.has_value()) << "producer gave no DONE";
    return line ? std::stoull(line->substr(5)) : 0;
  }
};

// Eight consumers in their own processes, on all three read paths, get the
// producer's frames out of its device memory, each through its own import.
TEST_F(DevicePoolTest, FramesReachEightConsumersInOtherProcesses) {
  const std::string name = "gpu8";
  const int64_t bytes = 16384;
  std::vector<std::unique_ptr<ChildProcess>> consumers;
  std::vector<std::string> modes = {"stream", "stream", "stream", "stream",
                                    "futex",  "futex",  "get",    "get"};
  for (const auto& mode : modes) {
    consumers.push_back(
        start_gpu_consumer(name, bytes, 4, mode, {"--get-history", "4", "--print-frames"}));
  }
  auto producer = start_gpu_producer(name, bytes, 4,
                                     {"--frames", "300", "--interval-us", "1000", "--hold"});
  const uint64_t done = wait_done(*producer);
  ASSERT_GT(done, 0u);
  // Every consumer holds exactly one import of the memory; the producer its
  // allocation.
  EXPECT_EQ(double_mappings(producer->pid(), name), 1);
  for (auto& c : consumers) {
    EXPECT_TRUE(eventually([&] { return double_mappings(c->pid(), name) == 1; }, kPatience))
        << "consumer " << c->pid() << " has " << double_mappings(c->pid(), name)
        << " mappings of the pool's device memory";
  }
  for (size_t i = 0; i < consumers.size(); ++i) {
    SCOPED_TRACE("consumer " + std::to_string(i) + " (" + modes[i] + ")");
    if (modes[i] != "get") {  // its callback gets the last frame
      EXPECT_TRUE(consumers[i]->wait_for_line(
          "FRAME " + std::to_string(producer->pid()) + " " + std::to_string(done), seconds(20)));
    }
    auto r = finish_consumer(*consumers[i]);
    EXPECT_GT(r["intact"], 0u);
    EXPECT_EQ(r["torn"], 0u);
    EXPECT_EQ(r["order_errors"], 0u);
    if (modes[i] != "get") {
      EXPECT_EQ(r["last_seq"], done);
    }
  }
  producer->signal(SIGKILL);
}

// GetPool shows the device memory the producer exported: its device, its
// UUID, the handles; what a consumer imported is exactly that.
TEST_F(DevicePoolTest, GetPoolShowsTheDeviceMemory) {
  auto producer = start_gpu_producer("gpuinfo", 1000, 3, {"--frames", "1", "--hold"});
  wait_done(*producer);
  ChildProcess helper({TIPC_BROKER_HELPER, daemon_->socket_path(), "gpuinfo", "info"});
  auto line = helper.wait_for_line("INFO", seconds(20));
  ASSERT_TRUE(line.has_value());
  const auto info = parse_result(*line);
  EXPECT_NE(line->find("device=cuda:0 "), std::string::npos) << *line;
  EXPECT_EQ(info.at("sharing"), 1u) << *line;  // CUDA_SHARING_LEGACY_IPC
  EXPECT_EQ(info.at("ordinal"), 0u);
  EXPECT_NE(line->find("uuid=" + to_hex("tipc-host-double") + " "), std::string::npos) << *line;
  EXPECT_EQ(info.at("allocation_size"), 2u << 20);  // 3 x 1024 rounded up to 2 MiB
  EXPECT_EQ(info.at("slot_stride"), 1024u);          // 1000 rounded up to 256
  EXPECT_EQ(info.at("events"), 3u);
  // The handle names the producer's process (the double's format: magic, pid).
  EXPECT_EQ(line->find("memory_handle=" + to_hex("TIPCDBLM")), line->find("memory_handle="))
      << *line;
  producer->signal(SIGKILL);
}

// The producer dies: every consumer lets go of the memory before its
// application hears of it, and reads find nothing; a new producer brings a
// new allocation, which every consumer maps in its place.
TEST_F(DevicePoolTest, ProducerKilledThenReplaced) {
  const std::string name = "gpukill";
  const int64_t bytes = 4096;
  std::vector<std::unique_ptr<ChildProcess>> consumers;
  for (int i = 0; i < 3; ++i) {
    consumers.push_back(start_gpu_consumer(name, bytes, 4, "stream", {"--print-frames"}));
  }
  std::atomic<int> stale{0}, gone{0};
  ConsumerOptions options = consumer_options();
  options.on_lifecycle = [&](const LifecycleEvent& e) {
    if (e.state == PoolState::kProducerGone || e.state == PoolState::kRemoved) {
      gone++;
      if (double_mappings(::getpid(), name) > 0) stale++;
    }
  };
  Consumer consumer(gpu_pool(name, bytes, 4), options);

  auto first = start_gpu_producer(name, bytes, 4, {"--frames", "20", "--hold"});
  const uint64_t done = wait_done(*first);
  ASSERT_TRUE(eventually([&] {
    auto f = consumer.read();
    return f && f->seqs[0] == done;
  }, kPatience));
  auto frame = consumer.get();
  ASSERT_TRUE(frame);
  uint64_t seq = 0;
  EXPECT_EQ(check_test_frame(frame->data_as<uint8_t>(), frame->nbytes(), &seq),
            FrameCheck::kIntact);
  EXPECT_EQ(seq, done);
  EXPECT_EQ(double_mappings(::getpid(), name), 1);
  EXPECT_EQ(consumer.device(), Device::cuda(0));
  for (auto& c : consumers) {
    EXPECT_TRUE(eventually([&] { return double_mappings(c->pid(), name) == 1; }, kPatience));
  }

  first->signal(SIGKILL);
  first->wait(seconds(10));
  ASSERT_TRUE(eventually([&] { return gone.load() > 0; }, kPatience));
  EXPECT_EQ(stale.load(), 0) << "the application heard of the producer's end while the "
                                "consumer still held its memory";
  EXPECT_EQ(double_mappings(::getpid(), name), 0);
  EXPECT_FALSE(consumer.get().has_value());
  EXPECT_FALSE(consumer.view().has_value());
  EXPECT_FALSE(consumer.device().has_value());  // nothing to read on any device
  for (auto& c : consumers) {
    EXPECT_TRUE(eventually([&] { return double_mappings(c->pid(), name) == 0; }, kPatience))
        << "consumer " << c->pid() << " still maps the dead producer's memory";
  }

  auto second = start_gpu_producer(name, bytes, 4, {"--frames", "7", "--hold"});
  const uint64_t done2 = wait_done(*second);
  ASSERT_TRUE(eventually([&] {
    auto f = consumer.read();
    return f && f->seqs[0] == done2 && consumer.status().state == PoolState::kLive;
  }, kPatience));
  frame = consumer.get();
  ASSERT_TRUE(frame);
  EXPECT_EQ(check_test_frame(frame->data_as<uint8_t>(), frame->nbytes(), &seq),
            FrameCheck::kIntact);
  EXPECT_EQ(seq, done2);
  EXPECT_EQ(double_mappings(::getpid(), name), 1);
  for (auto& c : consumers) {
    EXPECT_TRUE(eventually([&] { return double_mappings(c->pid(), name) == 1; }, kPatience));
    // Its callback got the new producer's last frame, read from the new memory.
    EXPECT_TRUE(c->wait_for_line("FRAME " + std::to_string(second->pid()) + " " +
                                     std::to_string(done2),
                                 seconds(20)));
    auto r = finish_consumer(*c);
    EXPECT_EQ(r["stale_imports"], 0u);
    EXPECT_EQ(r["torn"], 0u);
    EXPECT_GE(r["lifecycle"], 3u);  // live, gone (and removed), live again
    EXPECT_EQ(r["last_seq"], done2);
  }
  second->signal(SIGKILL);
}

// Producer and consumer in one process: the consumer uses the producer's
// pointer (the double refuses to import in the exporting process, as CUDA
// does). Host and device frames go in; history, view and DLPack come out.
TEST_F(DevicePoolTest, SameProcessProducerAndConsumer) {
  const std::string name = "gpuself";
  Producer producer(PoolMetadata::create(name, {2, 3}, DType::kFloat32, 3, "cuda:0"),
                    producer_options());
  Consumer consumer(PoolMetadata::create(name, {2, 3}, DType::kFloat32, 3, "cuda:0"),
                    consumer_options());
  EXPECT_EQ(producer.metadata().device, "cuda:0");
  std::vector<float> a = {1, 2, 3, 4, 5, 6}, b = {7, 8, 9, 10, 11, 12};
  producer.put(TensorView(a.data(), DType::kFloat32, {2, 3}));  // host -> device
  // A device frame (on the double, device memory is host memory).
  producer.put(TensorView(b.data(), DType::kFloat32, {2, 3}, Device::cuda(0)));
  ASSERT_TRUE(
      eventually([&] { return consumer.status().state == PoolState::kLive; }, kPatience));
  auto h = consumer.read(2, /*latest_first=*/false);
  ASSERT_TRUE(h);
  EXPECT_EQ(h->seqs, (std::vector<uint64_t>{1, 2}));
  EXPECT_EQ(std::memcmp(h->tensor.data(), a.data(), 24), 0);
  EXPECT_EQ(std::memcmp(h->tensor.data_as<float>() + 6, b.data(), 24), 0);
  // The one mapping is the producer's allocation.
  EXPECT_EQ(double_mappings(::getpid(), name), 1);

  auto v = consumer.view();
  ASSERT_TRUE(v);
  EXPECT_EQ(v->seq(), 2u);
  EXPECT_EQ(v->tensor().device(), Device::cuda(0));
  EXPECT_NE(v->cuda_event(), nullptr);
  EXPECT_EQ(std::memcmp(v->tensor().data(), b.data(), 24), 0);
  DLManagedTensor* dl = v->to_dlpack();
  EXPECT_EQ(dl->dl_tensor.device.device_type, kDLCUDA);
  EXPECT_EQ(dl->dl_tensor.device.device_id, 0);
  EXPECT_EQ(dl->dl_tensor.data, v->tensor().data());
  dl->deleter(dl);
  EXPECT_TRUE(v->still_valid());
  for (int i = 0; i < 3; ++i) producer.put(TensorView(a.data(), DType::kFloat32, {2, 3}));
  EXPECT_FALSE(v->still_valid());  // its slot was written again

  // read_into, into host memory (device memory would do as well), on the
  // consumer's stream or a given one.
  std::vector<float> out(6, -1);
  EXPECT_EQ(consumer.read_into(out.data(), 24), 5u);
  EXPECT_EQ(out, a);
  out.assign(6, -1);
  EXPECT_EQ(consumer.read_into(out.data(), 24, 1, true, reinterpret_cast<CudaStream>(2)), 5u);
  EXPECT_EQ(out, a);
  EXPECT_EQ(consumer.device(), Device::cuda(0));
  auto latest = consumer.view();
  ASSERT_TRUE(latest);
  EXPECT_NO_THROW(latest->wait_on(nullptr));

  // Checked before anything is written.
  const uint64_t before = producer.latest_seq();
  EXPECT_THROW(producer.put(TensorView(a.data(), DType::kFloat32, {3, 2}, Device::cuda(0))),
               InvalidArgumentError);
  EXPECT_THROW(producer.put(TensorView(a.data(), DType::kInt32, {2, 3}, Device::cuda(0))),
               InvalidArgumentError);
  EXPECT_EQ(producer.latest_seq(), before);
}

// The daemon is killed and restarted: the producer hands its pool back with
// the same device memory, and consumers carry on in the import they have
// (same handles, same generation), with no gap in the history.
TEST_F(DevicePoolTest, DaemonRestartKeepsTheDeviceMemory) {
  const std::string name = "gpurestart";
  const int64_t bytes = 8192;
  Consumer consumer(gpu_pool(name, bytes, 8), consumer_options());
  auto producer = start_gpu_producer(name, bytes, 8, {"--interval-us", "2000"});
  ASSERT_TRUE(eventually([&] {
    auto f = consumer.read();
    return f && f->seqs[0] > 5;
  }, kPatience));
  auto before = consumer.view();
  ASSERT_TRUE(before);
  const void* device_before = before->tensor().data();

  daemon_->restart(/*kill=*/true);
  const uint64_t at_restart = consumer.read()->seqs[0];
  ASSERT_TRUE(eventually([&] {
    return consumer.status().connected && consumer.status().state == PoolState::kLive &&
           consumer.read()->seqs[0] > at_restart + 10;
  }, milliseconds(20000)));
  auto h = consumer.read(8);
  ASSERT_TRUE(h);
  for (size_t i = 0; i < 8; ++i) {
    uint64_t seq = 0;
    EXPECT_EQ(check_test_frame(h->tensor.data_as<uint8_t>() + i * bytes, bytes, &seq),
              FrameCheck::kIntact);
    EXPECT_EQ(seq, h->seqs[i]);
    if (i > 0) {
      EXPECT_EQ(h->seqs[i] + 1, h->seqs[i - 1]) << "a gap in the history";
    }
  }
  // The same import: one mapping, at the same address.
  EXPECT_EQ(double_mappings(::getpid(), name), 1);
  auto after = consumer.view();
  ASSERT_TRUE(after);
  const auto slot_of = [](uint64_t seq) { return static_cast<std::ptrdiff_t>(seq % 8); };
  EXPECT_EQ(static_cast<const char*>(after->tensor().data()) -
                static_cast<const char*>(device_before),
            (slot_of(after->seq()) - slot_of(before->seq())) * bytes);
  ChildProcess helper({TIPC_BROKER_HELPER, daemon_->socket_path(), name, "info"});
  auto line = helper.wait_for_line("INFO", seconds(20));
  ASSERT_TRUE(line.has_value());
  EXPECT_NE(line->find("device=cuda:0 "), std::string::npos) << *line;
  producer->signal(SIGKILL);
}

// A frame written in place into the device slot (Producer::loan): the loan
// is device memory, and its commit records the slot's event and publishes.
TEST_F(DevicePoolTest, LoanedDeviceFramesReachOtherProcesses) {
  const std::string name = "gpuloan";
  const int64_t bytes = 4096;
  {
    Producer producer(gpu_pool(name, bytes, 4), producer_options());
    Loan loan = producer.loan();
    EXPECT_EQ(loan.tensor().device(), Device::cuda(0));
    EXPECT_EQ(loan.nbytes(), static_cast<size_t>(bytes));
    loan.abandon();
  }
  auto consumer = start_gpu_consumer(name, bytes, 4, "stream", {"--print-frames"});
  auto producer = start_gpu_producer(name, bytes, 4, {"--frames", "50", "--loan", "--hold"});
  const uint64_t done = wait_done(*producer);
  EXPECT_TRUE(consumer->wait_for_line(
      "FRAME " + std::to_string(producer->pid()) + " " + std::to_string(done), seconds(20)));
  auto r = finish_consumer(*consumer);
  EXPECT_EQ(r["torn"], 0u);
  EXPECT_GT(r["intact"], 0u);
  producer->signal(SIGKILL);
}

// The pool's GPU is found by UUID: in a process that sees it second, the
// consumer's frames are on its cuda:1, whatever the metadata's cuda:0 (the
// producer's numbering) says.
TEST_F(DevicePoolTest, DeviceIsThisProcesssNumberingOfThePoolsGpu) {
  auto producer = start_gpu_producer("gpunum", 64, 2, {"--frames", "3", "--hold"});
  const uint64_t done = wait_done(*producer);
  ::setenv(kDoubleDevices, "other-gpu-00001,tipc-host-double", 1);
  Consumer consumer(gpu_pool("gpunum", 64, 2), consumer_options());
  EXPECT_EQ(consumer.metadata().device, "cuda:0");
  ASSERT_TRUE(eventually([&] { return consumer.device().has_value(); }, kPatience));
  EXPECT_EQ(consumer.device(), Device::cuda(1));
  auto v = consumer.view();
  ASSERT_TRUE(v);
  EXPECT_EQ(v->seq(), done);
  EXPECT_EQ(v->tensor().device(), Device::cuda(1));
  EXPECT_NO_THROW(v->wait_on(nullptr));
  producer->signal(SIGKILL);
}

// A consumer that cannot see the pool's GPU (another UUID) is told which
// GPU the pool is on and which it sees.
TEST_F(DevicePoolTest, UnreachableGpuIsNamed) {
  auto producer = start_gpu_producer("gpufar", 64, 2, {"--frames", "1", "--hold"});
  wait_done(*producer);
  ::setenv(kDoubleDevices, "other-gpu-00001", 1);  // this process's only device
  try {
    Consumer consumer(gpu_pool("gpufar", 64, 2), consumer_options());
    ADD_FAILURE() << "a consumer on another GPU attached";
  } catch (const Error& e) {
    const std::string m = e.what();
    EXPECT_NE(m.find(to_hex("tipc-host-double")), std::string::npos) << m;
    EXPECT_NE(m.find(to_hex(std::string("other-gpu-00001") + '\0')), std::string::npos) << m;
    EXPECT_NE(m.find("CUDA_VISIBLE_DEVICES"), std::string::npos) << m;
  }
  EXPECT_EQ(double_mappings(::getpid(), "gpufar"), 0);
  producer->signal(SIGKILL);
}

// Without the double, a GPU pool needs CUDA: a build without it says so, and
// one with it but no usable GPU passes on CUDA's own words.
TEST_F(DevicePoolTest, WithoutTheDoubleTheErrorSaysWhy) {
  ::unsetenv(kBackend);
  try {
    Producer producer(gpu_pool("gpunone", 64, 2), producer_options());
    GTEST_SKIP() << "a GPU is usable here: nothing to refuse";
  } catch (const InvalidArgumentError& e) {
#ifdef TIPC_HAVE_CUDA
    ADD_FAILURE() << "a build with CUDA refused as if it had none: " << e.what();
#else
    EXPECT_NE(std::string(e.what()).find("no CUDA support"), std::string::npos) << e.what();
#endif
  } catch (const Error& e) {
#ifdef TIPC_HAVE_CUDA
    EXPECT_NE(std::string(e.what()).find("cudaGetDeviceCount"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("no GPU is usable"), std::string::npos) << e.what();
#else
    ADD_FAILURE() << "unexpected error: " << e.what();
#endif
  }
}

// The same path on the CUDA runtime, where a GPU is usable.
class RealGpuTest : public ClientTest {
 protected:
  void SetUp() override {
    ::unsetenv(kBackend);
    ClientTest::SetUp();
  }
};

TEST_F(RealGpuTest, ProducerToConsumersAcrossProcesses) {
  std::unique_ptr<Producer> probe;
  try {
    probe = std::make_unique<Producer>(gpu_pool("realgpu", 3686400, 4), producer_options());
  } catch (const Error& e) {
    GTEST_SKIP() << "no usable GPU: " << e.what();
  }
  probe.reset();  // the pool goes with it; the child producer makes its own
  const int64_t bytes = 3686400;
  std::vector<std::unique_ptr<ChildProcess>> consumers;
  for (const char* mode : {"stream", "futex", "get"}) {
    consumers.push_back(start_consumer("realgpu", bytes, 4, mode, {"--device", "cuda:0"}));
  }
  auto producer = start_producer("realgpu", bytes, 4,
                                 {"--device", "cuda:0", "--frames", "200", "--interval-us", "2000",
                                  "--hold"});
  auto done = producer->wait_for_line("DONE", seconds(60));
  ASSERT_TRUE(done.has_value());
  std::this_thread::sleep_for(milliseconds(300));
  for (auto& c : consumers) {
    auto r = finish_consumer(*c);
    EXPECT_GT(r["intact"], 0u);
    EXPECT_EQ(r["torn"], 0u);
    EXPECT_EQ(r["order_errors"], 0u);
  }
  producer->signal(SIGKILL);
}

}  // namespace
}  // namespace tensoripc::testing
