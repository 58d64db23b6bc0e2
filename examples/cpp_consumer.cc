// cpp_consumer: subscribes to a pool of demo frames (cpp_producer) and prints,
// once a second, the rate, the latency from put() to this callback (p50/p99,
// from the frame's timestamp), frames lost, events dropped by the daemon and
// frames whose checksum failed. It may start before the producer: it waits.
#include <signal.h>
#include <time.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "demo_args.h"
#include "demo_frame.h"
#include "tensoripc/tensoripc.h"

namespace {

constexpr char kUsage[] =
    "usage: cpp_consumer [--name camera] [--notify stream|futex] [--history 4]\n"
    "                    [--width 640] [--height 480] [--channels 3] [--uint8]\n"
    "                    [--frames N] [--seconds S] [--socket PATH]\n"
    "  Subscribes to cpp_producer's frames (same shape, dtype and history) and prints,\n"
    "  once a second, the rate, the put -> callback latency, and lost, dropped and bad\n"
    "  frames. Stops on SIGINT/SIGTERM, after N frames or S seconds; exit status 0 when\n"
    "  frames arrived and every checksum held.\n";

volatile sig_atomic_t g_stop = 0;
void on_signal(int) { g_stop = 1; }

int64_t realtime_ns() {
  timespec ts{};
  clock_gettime(CLOCK_REALTIME, &ts);  // the clock frame timestamps use
  return int64_t{ts.tv_sec} * 1'000'000'000 + ts.tv_nsec;
}

// What the callback saw. Written on the consumer's notification thread,
// read and reset by main once a second; guarded by mu.
struct Stats {
  std::mutex mu;
  std::vector<double> latency_us;          // this second
  uint64_t frames = 0, lost = 0, bad = 0;  // since the start
  uint64_t last_seq = 0;
};

double percentile(std::vector<double>& v, double p) {
  if (v.empty()) return 0;
  const size_t k = std::min(v.size() - 1, static_cast<size_t>(p * v.size()));
  std::nth_element(v.begin(), v.begin() + k, v.end());
  return v[k];
}

}  // namespace

int main(int argc, char** argv) {
  const demo::Args args(argc, argv,
                        {"--name", "--notify", "--history", "--width", "--height", "--channels",
                         "--frames", "--seconds", "--socket"},
                        {"--uint8"}, kUsage);
  const std::string name = args.get("--name", "camera");
  const std::string notify = args.get("--notify", "stream");
  if (notify != "stream" && notify != "futex") args.fail("--notify takes stream or futex");
  const auto max_frames = static_cast<uint64_t>(args.number("--frames", 0));  // 0: no limit
  const double max_seconds = args.number("--seconds", 0);                     // 0: no limit
  const std::vector<int64_t> shape = {static_cast<int64_t>(args.number("--height", 480)),
                                      static_cast<int64_t>(args.number("--width", 640)),
                                      static_cast<int64_t>(args.number("--channels", 3))};

  struct sigaction sa {};
  sa.sa_handler = on_signal;
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);

  const tensoripc::DType dtype =
      args.has("--uint8") ? tensoripc::DType::kUInt8 : tensoripc::DType::kFloat32;
  Stats stats;

  tensoripc::ConsumerOptions options;
  options.notify =
      notify == "futex" ? tensoripc::NotifyPath::kFutex : tensoripc::NotifyPath::kStream;
  options.socket_path = args.get("--socket", "");
  // Runs on the consumer's notification thread, once per new frame, with
  // the frame already copied out of shared memory.
  options.on_new_data = [&stats](const tensoripc::Frame& frame) {
    const double latency_us = (realtime_ns() - frame.timestamp_ns) / 1e3;
    uint64_t counter = 0;
    const bool whole = demo::check_frame(frame.tensor.data(), frame.tensor.nbytes(), &counter);
    std::lock_guard<std::mutex> lock(stats.mu);
    stats.latency_us.push_back(latency_us);
    ++stats.frames;
    if (!whole) ++stats.bad;
    // A gap in sequence numbers is frames this callback never got.
    if (stats.last_seq != 0 && frame.seq > stats.last_seq + 1) {
      stats.lost += frame.seq - stats.last_seq - 1;
    }
    stats.last_seq = frame.seq;  // a smaller seq: a new pool started over
  };
  options.on_lifecycle = [](const tensoripc::LifecycleEvent& e) {
    const std::string pid =
        e.producer_pid ? " (producer pid " + std::to_string(e.producer_pid) + ")" : "";
    std::printf("consumer: pool is now %s%s\n", tensoripc::to_string(e.state), pid.c_str());
    std::fflush(stdout);
  };

  try {
    tensoripc::Consumer consumer(
        tensoripc::PoolMetadata::create(name, shape, dtype,
                                        static_cast<uint32_t>(args.number("--history", 4))),
        options);
    std::printf("consumer: subscribed to '%s' (%s path)\n", name.c_str(), notify.c_str());
    std::fflush(stdout);

    const auto start = std::chrono::steady_clock::now();
    auto report_at = start + std::chrono::seconds(1);
    uint64_t frames_before = 0;
    for (;;) {
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
      const auto now = std::chrono::steady_clock::now();
      uint64_t frames;
      {
        std::lock_guard<std::mutex> lock(stats.mu);
        frames = stats.frames;
      }
      const bool done =
          g_stop || (max_frames && frames >= max_frames) ||
          (max_seconds > 0 && now - start >= std::chrono::duration<double>(max_seconds));
      if (now < report_at && !done) continue;

      std::vector<double> latencies;
      uint64_t lost, bad;
      {
        std::lock_guard<std::mutex> lock(stats.mu);
        latencies.swap(stats.latency_us);
        lost = stats.lost;
        bad = stats.bad;
      }
      std::printf(
          "consumer: %llu frames/s, latency p50 %.0f us p99 %.0f us, lost %llu, dropped %llu, "
          "bad %llu, total %llu\n",
          static_cast<unsigned long long>(frames - frames_before), percentile(latencies, 0.50),
          percentile(latencies, 0.99), static_cast<unsigned long long>(lost),
          static_cast<unsigned long long>(consumer.status().dropped),
          static_cast<unsigned long long>(bad), static_cast<unsigned long long>(frames));
      std::fflush(stdout);
      frames_before = frames;
      report_at = now + std::chrono::seconds(1);
      if (done) break;
    }
    consumer.cleanup();  // stops the callbacks before `stats` goes away
    std::lock_guard<std::mutex> lock(stats.mu);
    if (stats.bad > 0) {
      std::fprintf(stderr, "consumer: %llu frames failed their checksum\n",
                   static_cast<unsigned long long>(stats.bad));
      return 1;
    }
    if (stats.frames == 0) {
      std::fprintf(stderr, "consumer: no frame arrived\n");
      return 1;
    }
  } catch (const tensoripc::Error& e) {
    std::fprintf(stderr, "consumer: %s\n", e.what());
    return 1;
  }
  return 0;
}
