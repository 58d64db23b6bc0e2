// A producer in its own process, for the multi-process tests. Publishes
// test frames (frame_pattern.h) into a uint8 pool of --bytes per frame.
//
//   test_producer --name N --bytes B --history H [--frames K] [--interval-us U]
//                 [--hold] [--device cpu|cuda:N] [--loan]
//
// --loan writes each frame in place (Producer::loan, then commit) instead of
// put(); host pools, or GPU pools on the host double, whose device memory
// the CPU can write.
// With --device cuda:N the pool is a GPU pool and each frame is put from host
// memory (one host-to-device copy); without a GPU, tests run it on the host
// double (TENSORIPC_CUDA_BACKEND=host-double).
//
// Prints "READY <pid> <latest_seq>" once it holds the pool, "DONE <seq>"
// after --frames frames (then exits, or with --hold waits to be killed), or
// "ERROR <kind> <message>" and exits 3 when the claim (or a re-claim after a
// daemon restart) is refused; for TopicTaken: "ERROR TopicTaken holder_pid=<n> ...".
// Links the shared libtensoripc-client.so, as an application would.
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include "frame_pattern.h"
#include "tensoripc/tensoripc.h"

namespace {

const char* arg(int argc, char** argv, const char* name, const char* def) {
  for (int i = 1; i + 1 < argc; ++i) {
    if (std::strcmp(argv[i], name) == 0) return argv[i + 1];
  }
  return def;
}

bool flag(int argc, char** argv, const char* name) {
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], name) == 0) return true;
  }
  return false;
}

}  // namespace

int main(int argc, char** argv) {
  using namespace tensoripc;
  using namespace tensoripc::testing;
  const std::string name = arg(argc, argv, "--name", "test");
  const int64_t bytes = std::atoll(arg(argc, argv, "--bytes", "4096"));
  const uint32_t history = static_cast<uint32_t>(std::atoi(arg(argc, argv, "--history", "4")));
  const long frames = std::atol(arg(argc, argv, "--frames", "-1"));  // -1: until killed
  const long interval_us = std::atol(arg(argc, argv, "--interval-us", "0"));
  const bool hold = flag(argc, argv, "--hold");
  const std::string device = arg(argc, argv, "--device", "cpu");
  const bool loan = flag(argc, argv, "--loan");
  std::setvbuf(stdout, nullptr, _IOLBF, 0);

  try {
    Producer producer(PoolMetadata::create(name, {bytes}, DType::kUInt8, history, device));
    std::printf("READY %d %llu\n", ::getpid(),
                static_cast<unsigned long long>(producer.latest_seq()));
    std::vector<uint8_t> frame(static_cast<size_t>(bytes));
    const TensorView view(frame.data(), DType::kUInt8, {bytes});
    uint64_t last = 0;
    for (long i = 0; frames < 0 || i < frames; ++i) {
      if (loan) {
        Loan slot = producer.loan();
        fill_test_frame(static_cast<uint8_t*>(slot.data()), slot.nbytes(), slot.seq());
        last = slot.commit().seq;
      } else {
        // The next seq is latest + 1; the frame carries it so readers can check.
        fill_test_frame(frame.data(), frame.size(), producer.latest_seq() + 1);
        last = producer.put(view).seq;
      }
      if (interval_us > 0) std::this_thread::sleep_for(std::chrono::microseconds(interval_us));
    }
    std::printf("DONE %llu\n", static_cast<unsigned long long>(last));
    if (hold) {
      for (;;) ::pause();
    }
    producer.cleanup();
  } catch (const TopicTakenError& e) {
    std::printf("ERROR TopicTaken holder_pid=%d %s\n", e.holder_pid(), e.what());
    return 3;
  } catch (const Error& e) {
    std::printf("ERROR Error %s\n", e.what());
    return 3;
  }
  return 0;
}
