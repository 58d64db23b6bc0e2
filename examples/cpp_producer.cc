// cpp_producer: publishes camera-sized frames into a tensor-ipc pool at a set
// rate. Each frame carries a counter and a checksum (demo_frame.h) that
// cpp_consumer verifies. Prints a line a second; stops on SIGINT/SIGTERM.
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <string>
#include <thread>
#include <vector>

#include "demo_args.h"
#include "demo_frame.h"
#include "tensoripc/tensoripc.h"

namespace {

constexpr char kUsage[] =
    "usage: cpp_producer [--name camera] [--rate 30] [--history 4] [--frames N]\n"
    "                    [--width 640] [--height 480] [--channels 3] [--uint8] [--socket PATH]\n"
    "  Publishes height x width x channels float32 frames (uint8 with --uint8) at --rate Hz.\n"
    "  --frames N stops after N frames (default: run until SIGINT/SIGTERM). The daemon's\n"
    "  socket is --socket, else $TENSOR_IPC_SOCKET, else the default one.\n";

volatile sig_atomic_t g_stop = 0;
void on_signal(int) { g_stop = 1; }

// Sleeps until `t`, in short steps so that a signal stops even a slow
// producer at once.
void sleep_until_or_stopped(std::chrono::steady_clock::time_point t) {
  while (!g_stop && std::chrono::steady_clock::now() < t) {
    std::this_thread::sleep_until(
        std::min(t, std::chrono::steady_clock::now() + std::chrono::milliseconds(100)));
  }
}

}  // namespace

int main(int argc, char** argv) {
  const demo::Args args(argc, argv,
                        {"--name", "--rate", "--history", "--frames", "--width", "--height",
                         "--channels", "--socket"},
                        {"--uint8"}, kUsage);
  const std::string name = args.get("--name", "camera");
  const double rate_hz = args.number("--rate", 30);
  const auto frames = static_cast<uint64_t>(args.number("--frames", 0));  // 0: forever
  const int height = static_cast<int>(args.number("--height", 480));
  const int width = static_cast<int>(args.number("--width", 640));
  const int channels = static_cast<int>(args.number("--channels", 3));
  const bool uint8 = args.has("--uint8");
  if (rate_hz <= 0) args.fail("--rate must be above 0");
  if (height < 1 || width < 1 || channels < 1 ||
      size_t(height) * width * channels * (uint8 ? 1 : 4) < demo::kHeaderBytes + 8) {
    args.fail("a frame must hold at least 24 bytes");
  }

  struct sigaction sa {};
  sa.sa_handler = on_signal;
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);

  const tensoripc::DType dtype = uint8 ? tensoripc::DType::kUInt8 : tensoripc::DType::kFloat32;
  const std::vector<int64_t> shape = {height, width, channels};
  tensoripc::ProducerOptions options;
  options.socket_path = args.get("--socket", "");

  try {
    tensoripc::Producer producer(
        tensoripc::PoolMetadata::create(name, shape, dtype,
                                        static_cast<uint32_t>(args.number("--history", 4))),
        options);
    std::printf("producer: publishing %s at %.1f Hz (pid %d)\n",
                producer.metadata().to_string().c_str(), rate_hz, static_cast<int>(getpid()));
    std::fflush(stdout);

    // One frame buffer, refilled each time: put() copies it into the pool.
    tensoripc::Tensor frame(dtype, tensoripc::Shape(shape));
    const auto period = std::chrono::duration_cast<std::chrono::steady_clock::duration>(
        std::chrono::duration<double>(1.0 / rate_hz));
    auto next = std::chrono::steady_clock::now();
    auto report_at = next + std::chrono::seconds(1);
    uint64_t counter = 0, frames_this_second = 0;
    double put_us = 0;

    while (!g_stop && (frames == 0 || counter < frames)) {
      ++counter;
      if (uint8) {
        demo::fill_frame(frame.data_as<uint8_t>(), height, width, channels, counter);
      } else {
        demo::fill_frame(frame.data_as<float>(), height, width, channels, counter);
      }
      const auto t0 = std::chrono::steady_clock::now();
      const tensoripc::PutResult put = producer.put(frame);
      const auto now = std::chrono::steady_clock::now();
      put_us += std::chrono::duration<double, std::micro>(now - t0).count();
      ++frames_this_second;

      if (now >= report_at) {
        std::printf("producer: %llu frames/s, frame %llu, seq %llu, put %.0f us avg%s\n",
                    static_cast<unsigned long long>(frames_this_second),
                    static_cast<unsigned long long>(counter),
                    static_cast<unsigned long long>(put.seq), put_us / frames_this_second,
                    producer.connected() ? "" : " (daemon away: reconnecting)");
        std::fflush(stdout);
        frames_this_second = 0;
        put_us = 0;
        report_at = std::max(report_at + std::chrono::seconds(1), now);
      }
      next = std::max(next + period, now);  // fell behind: do not burst to catch up
      sleep_until_or_stopped(next);
    }
    std::printf("producer: stopping after %llu frames\n", static_cast<unsigned long long>(counter));
    producer.cleanup();
  } catch (const tensoripc::Error& e) {
    std::fprintf(stderr, "producer: %s\n", e.what());
    return 1;
  }
  return 0;
}
