// cpp_producer: publishes camera-sized frames into a tensor-ipc pool at a set
// rate. Each frame carries a counter and a checksum (demo_frame.h) that
// cpp_consumer verifies.
//
//   cpp_producer [--name camera] [--rate 30] [--history 4] [--frames 0]
//                [--width 640] [--height 480] [--channels 3] [--uint8]
//                [--socket PATH]
//
// --frames 0 (the default) runs until SIGINT/SIGTERM. The daemon's socket is
// --socket, else $TENSOR_IPC_SOCKET, else the default one.
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include "demo_frame.h"
#include "tensoripc/tensoripc.h"

namespace {

volatile sig_atomic_t g_stop = 0;
void on_signal(int) { g_stop = 1; }

// Sleeps until `t`, in short steps so that a signal stops a slow producer
// at once.
void sleep_until_or_stopped(std::chrono::steady_clock::time_point t) {
  while (!g_stop && std::chrono::steady_clock::now() < t) {
    std::this_thread::sleep_until(
        std::min(t, std::chrono::steady_clock::now() + std::chrono::milliseconds(100)));
  }
}

struct Args {
  std::string name = "camera";
  double rate_hz = 30;
  uint32_t history = 4;
  uint64_t frames = 0;  // 0: forever
  int width = 640, height = 480, channels = 3;
  bool uint8 = false;
  std::string socket;
};

[[noreturn]] void usage(const char* why) {
  std::fprintf(stderr,
               "cpp_producer: %s\nusage: cpp_producer [--name camera] [--rate 30] [--history 4] "
               "[--frames N (0: forever)] [--width 640] [--height 480] [--channels 3] [--uint8] "
               "[--socket PATH]\n",
               why);
  std::exit(2);
}

Args parse_args(int argc, char** argv) {
  Args a;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) usage((arg + " needs a value").c_str());
      return argv[++i];
    };
    if (arg == "--name") a.name = value();
    else if (arg == "--rate") a.rate_hz = std::stod(value());
    else if (arg == "--history") a.history = static_cast<uint32_t>(std::stoul(value()));
    else if (arg == "--frames") a.frames = std::stoull(value());
    else if (arg == "--width") a.width = std::stoi(value());
    else if (arg == "--height") a.height = std::stoi(value());
    else if (arg == "--channels") a.channels = std::stoi(value());
    else if (arg == "--uint8") a.uint8 = true;
    else if (arg == "--socket") a.socket = value();
    else if (arg == "-h" || arg == "--help") usage("publishes demo frames");
    else usage(("unknown argument " + arg).c_str());
  }
  if (a.rate_hz <= 0) usage("--rate must be above 0");
  if (static_cast<size_t>(a.width) * a.height * a.channels * (a.uint8 ? 1 : 4) <
      demo::kHeaderBytes + 8) {
    usage("frames must hold at least 24 bytes");
  }
  return a;
}

}  // namespace

int main(int argc, char** argv) {
  const Args args = parse_args(argc, argv);
  struct sigaction sa {};
  sa.sa_handler = on_signal;  // no SA_RESTART: sleeps end early
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);

  const tensoripc::DType dtype =
      args.uint8 ? tensoripc::DType::kUInt8 : tensoripc::DType::kFloat32;
  const std::vector<int64_t> shape = {args.height, args.width, args.channels};
  tensoripc::ProducerOptions options;
  options.socket_path = args.socket;

  try {
    tensoripc::Producer producer(
        tensoripc::PoolMetadata::create(args.name, shape, dtype, args.history), options);
    std::printf("producer: publishing %s at %.1f Hz (pid %d)\n",
                producer.metadata().to_string().c_str(), args.rate_hz, getpid());
    std::fflush(stdout);

    // One frame buffer, refilled each time: put() copies it into the pool.
    tensoripc::Tensor frame(dtype, tensoripc::Shape(shape));
    const auto period = std::chrono::duration_cast<std::chrono::steady_clock::duration>(
        std::chrono::duration<double>(1.0 / args.rate_hz));
    auto next = std::chrono::steady_clock::now();
    auto report_at = next + std::chrono::seconds(1);
    uint64_t counter = 0, frames_this_second = 0;
    double put_us_sum = 0;

    while (!g_stop && (args.frames == 0 || counter < args.frames)) {
      ++counter;
      if (args.uint8) {
        demo::fill_frame(frame.data_as<uint8_t>(), args.height, args.width, args.channels, counter);
      } else {
        demo::fill_frame(frame.data_as<float>(), args.height, args.width, args.channels, counter);
      }
      const auto t0 = std::chrono::steady_clock::now();
      const tensoripc::PutResult put = producer.put(frame);
      put_us_sum += std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - t0)
                        .count();
      ++frames_this_second;

      const auto now = std::chrono::steady_clock::now();
      if (now >= report_at) {
        std::printf("producer: %llu frames/s, frame %llu, seq %llu, put %.0f us avg%s\n",
                    static_cast<unsigned long long>(frames_this_second),
                    static_cast<unsigned long long>(counter),
                    static_cast<unsigned long long>(put.seq), put_us_sum / frames_this_second,
                    producer.connected() ? "" : " (daemon away: reconnecting)");
        std::fflush(stdout);
        frames_this_second = 0;
        put_us_sum = 0;
        report_at += std::chrono::seconds(1);
        if (report_at < now) report_at = now + std::chrono::seconds(1);
      }
      next += period;
      if (next < now) next = now;  // fell behind: do not burst to catch up
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
