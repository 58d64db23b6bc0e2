// A consumer in its own process, for the multi-process tests. Checks every
// frame it sees (frame_pattern.h) and reports what it saw.
//
//   test_consumer --name N --bytes B --history H --mode get|stream|futex
//                 [--get-history K] [--keep-last L] [--device cpu|cuda:N]
//                 [--print-frames] [--bridged]
//
// --bridged: the frames come through a bridge from another host's pool, so
// the seq written in each (its producer's) differs from this pool's; order is
// then that those written seqs increase.
// --print-frames (stream and futex modes): "FRAME <producer pid> <seq>" for
// every frame the callback gets, so a test can wait for a given one.
// Modes: "get" loops get(K) (and read) as fast as it can, timing each call;
// "stream" / "futex" count on_new_data callbacks on that notification path.
// Prints "READY <pid>" once subscribed; on SIGTERM prints
//   RESULT gets=<n> frames=<n> intact=<n> zero=<n> torn=<n> max_get_us=<n>
//          order_errors=<n> last_seq=<n> first_seq=<n> lifecycle=<n>
//          stale_imports=<n>
// and exits 0. stale_imports counts lifecycle callbacks for a producer that
// left (or a pool removed) that found the GPU pool's memory still mapped in
// this process (the host double's, named in /proc/self/maps): a consumer
// must let go of it before it tells the application.
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>

#include "frame_pattern.h"
#include "host_double_maps.h"
#include "tensoripc/tensoripc.h"

namespace {

volatile sig_atomic_t g_stop = 0;
void on_term(int) { g_stop = 1; }

const char* arg(int argc, char** argv, const char* name, const char* def) {
  for (int i = 1; i + 1 < argc; ++i) {
    if (std::strcmp(argv[i], name) == 0) return argv[i + 1];
  }
  return def;
}

struct Tally {
  std::atomic<uint64_t> gets{0}, frames{0}, intact{0}, zero{0}, torn{0}, max_get_us{0};
  std::atomic<uint64_t> order_errors{0}, last_seq{0}, first_seq{0}, lifecycle{0};
  std::atomic<uint64_t> stale_imports{0};
  bool bridged = false;
  uint64_t last_written_seq = 0;  // --bridged: the last frame's own seq

  void frame(const uint8_t* p, size_t n, uint64_t expected_seq) {
    frames++;
    uint64_t seq = 0;
    switch (tensoripc::testing::check_test_frame(p, n, &seq)) {
      case tensoripc::testing::FrameCheck::kIntact:
        intact++;
        if (bridged) {
          if (seq <= last_written_seq) order_errors++;
          last_written_seq = seq;
        } else if (expected_seq != 0 && seq != expected_seq) {
          order_errors++;
        }
        break;
      case tensoripc::testing::FrameCheck::kZero:
        zero++;
        break;
      case tensoripc::testing::FrameCheck::kTorn:
        torn++;
        break;
    }
  }
};

}  // namespace

int main(int argc, char** argv) {
  using namespace tensoripc;
  const std::string name = arg(argc, argv, "--name", "test");
  const int64_t bytes = std::atoll(arg(argc, argv, "--bytes", "4096"));
  const uint32_t history = static_cast<uint32_t>(std::atoi(arg(argc, argv, "--history", "4")));
  const std::string mode = arg(argc, argv, "--mode", "get");
  const size_t get_history = std::strtoul(arg(argc, argv, "--get-history", "1"), nullptr, 10);
  std::setvbuf(stdout, nullptr, _IOLBF, 0);
  struct sigaction sa {};
  sa.sa_handler = on_term;
  sigaction(SIGTERM, &sa, nullptr);

  Tally t;
  ConsumerOptions options;
  options.keep_last = static_cast<uint32_t>(std::atoi(arg(argc, argv, "--keep-last", "64")));
  const std::string device = arg(argc, argv, "--device", "cpu");
  bool print_frames = false;
  for (int i = 1; i < argc; ++i) {
    print_frames |= std::strcmp(argv[i], "--print-frames") == 0;
    t.bridged |= std::strcmp(argv[i], "--bridged") == 0;
  }
  std::atomic<int> producer_pid{0};
  options.on_lifecycle = [&](const LifecycleEvent& e) {
    t.lifecycle++;
    if (e.state == PoolState::kLive) producer_pid = e.producer_pid;
    if ((e.state == PoolState::kProducerGone || e.state == PoolState::kRemoved) &&
        tensoripc::testing::double_mappings(::getpid(), name) > 0) {
      t.stale_imports++;
    }
  };
  if (mode == "stream" || mode == "futex") {
    options.notify = mode == "futex" ? NotifyPath::kFutex : NotifyPath::kStream;
    options.on_new_data = [&](const Frame& f) {
      uint64_t expected = t.last_seq.load();
      if (f.seq <= expected) t.order_errors++;
      if (t.first_seq.load() == 0) t.first_seq = f.seq;
      t.last_seq = f.seq;
      t.frame(static_cast<const uint8_t*>(f.tensor.data()), f.tensor.nbytes(), f.seq);
      if (print_frames) {
        std::printf("FRAME %d %llu\n", producer_pid.load(), static_cast<unsigned long long>(f.seq));
      }
    };
  }
  try {
    Consumer consumer(PoolMetadata::create(name, {bytes}, DType::kUInt8, history, device), options);
    std::printf("READY %d\n", ::getpid());
    while (!g_stop) {
      if (mode != "get") {
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
        continue;
      }
      const auto start = std::chrono::steady_clock::now();
      auto h = consumer.read(get_history, true);
      const auto us = std::chrono::duration_cast<std::chrono::microseconds>(
                          std::chrono::steady_clock::now() - start)
                          .count();
      t.gets++;
      if (static_cast<uint64_t>(us) > t.max_get_us) t.max_get_us = static_cast<uint64_t>(us);
      if (!h) {
        std::this_thread::sleep_for(std::chrono::microseconds(200));
        continue;
      }
      const auto* p = static_cast<const uint8_t*>(h->tensor.data());
      for (size_t i = 0; i < get_history; ++i) {
        t.frame(p + i * static_cast<size_t>(bytes), static_cast<size_t>(bytes), h->seqs[i]);
        // A snapshot is consecutive frames, latest first (lost ones are 0).
        if (i > 0 && h->seqs[i] != 0 && h->seqs[i - 1] != 0 && h->seqs[i] + 1 != h->seqs[i - 1]) {
          t.order_errors++;
        }
      }
      if (h->seqs[0] != 0) t.last_seq = h->seqs[0];
    }
    consumer.cleanup();
  } catch (const Error& e) {
    std::printf("ERROR %s\n", e.what());
    return 3;
  }
  std::printf(
      "RESULT gets=%llu frames=%llu intact=%llu zero=%llu torn=%llu max_get_us=%llu "
      "order_errors=%llu last_seq=%llu first_seq=%llu lifecycle=%llu stale_imports=%llu\n",
      (unsigned long long)t.gets, (unsigned long long)t.frames, (unsigned long long)t.intact,
      (unsigned long long)t.zero, (unsigned long long)t.torn, (unsigned long long)t.max_get_us,
      (unsigned long long)t.order_errors, (unsigned long long)t.last_seq,
      (unsigned long long)t.first_seq, (unsigned long long)t.lifecycle,
      (unsigned long long)t.stale_imports);
  return 0;
}
