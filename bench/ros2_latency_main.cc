// tipc_bench_ros2: the ROS 2 bridge end to end, as a camera uses it. This
// process puts rgb8 frames (sensor_msgs/Image) at a fixed rate into a
// RosTensorProducer: its pool on a tensor-ipcd of its own, and the topic, over
// DDS on loopback with the large-sample settings. A child process, with its
// own tensor-ipcd, runs a RosTensorConsumer that writes every message into its
// pool; that pool's callback (which copies the frame, as a consumer's does)
// records now minus the put time stamped in the frame's first 8 bytes
// (CLOCK_REALTIME). Reported per frame size: p50/p90/p99/max and how many of
// the frames arrived.
//
//   tipc_bench_ros2 [--out FILE] [--frames 1000] [--warmup 30] [--rate 30]
//                   [--sizes 480x640,960x1280]
#include <unistd.h>


#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "ros2/ros_tensor.h"
#include "support.h"

namespace tensoripc::bench {
namespace {

struct Options {
  uint64_t frames = 1000;
  uint64_t warmup = 30;
  double rate_hz = 30;
  std::vector<std::pair<int64_t, int64_t>> sizes = {{480, 640}, {960, 1280}};
  std::string out;
};

PoolMetadata camera(const std::string& name, int64_t h, int64_t w) {
  return PoolMetadata::create(name, {h, w, 3}, DType::kUInt8, 8);
}

ros2::RosTensorOptions image_options() {
  ros2::RosTensorOptions o;
  o.encoding = "rgb8";
  o.qos.depth = 64;  // reliable, deep enough for a slow first second
  return o;
}

// The child: a RosTensorConsumer into its own daemon's pool (the socket in
// $TENSOR_IPC_SOCKET), recording latencies after `warmup` frames.
int run_subscriber(const std::string& topic, int64_t h, int64_t w, uint64_t warmup,
                   const std::string& out) {
  const sigset_t stop = block_stop_signals();
  std::vector<int64_t> samples;
  samples.reserve(1 << 14);
  std::atomic<uint64_t> seen{0};
  ConsumerOptions consumer;
  consumer.keep_last = 64;
  consumer.on_new_data = [&](const Frame& f) {
    const int64_t now = realtime_ns();
    int64_t stamp = 0;
    std::memcpy(&stamp, f.tensor.data(), sizeof stamp);
    if (seen.fetch_add(1) >= warmup) samples.push_back(now - stamp);
  };
  ros2::ParticipantOptions p;
  p.large_samples = true;
  p.localhost_only = true;
  ros2::Participant participant(p);
  ros2::RosTensorConsumer bridge(camera("ros2_bench_in", h, w), participant, topic,
                                 ros2::MessageType::kImage, image_options(), consumer);
  const int64_t deadline = monotonic_ns() + 20'000'000'000;
  while (bridge.matched_publications() == 0 || !bridge.pool_status().connected) {
    if (monotonic_ns() > deadline) {
      std::fprintf(stderr, "ros2 bench subscriber: no publisher matched in 20 s\n");
      return 1;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  std::printf("ready\n");
  std::fflush(stdout);
  wait_for_stop(stop);
  const ros2::RosConsumerStatus st = bridge.status();
  bridge.cleanup();
  std::printf("dropped %llu\n", static_cast<unsigned long long>(st.rejected));
  std::fflush(stdout);
  return write_samples(out, samples) ? 0 : 1;
}

struct Result {
  int64_t bytes = 0;
  LatencySummary latency;
  uint64_t delivered = 0;
};

Result measure(const Options& o, int64_t h, int64_t w, int index) {
  BenchDaemon daemon_a, daemon_b;
  const std::string topic = "/tipc_bench/camera_" + std::to_string(::getpid()) + "_" +
                            std::to_string(index);
  ros2::ParticipantOptions p;
  p.large_samples = true;
  p.localhost_only = true;
  ros2::Participant participant(p);
  ProducerOptions producer_options;
  producer_options.socket_path = daemon_a.socket_path();
  const PoolMetadata md = camera("ros2_bench_out", h, w);
  ros2::RosTensorProducer producer(md, participant, topic, ros2::MessageType::kImage,
                                   image_options(), producer_options);
  // The child is a client of daemon B.
  ::setenv("TENSOR_IPC_SOCKET", daemon_b.socket_path().c_str(), 1);
  Crew crew(daemon_b.dir(), "ros2_" + std::to_string(index));
  crew.start(1, {"--role", "subscriber", "--topic", topic, "--height", std::to_string(h),
                 "--width", std::to_string(w), "--warmup", std::to_string(o.warmup)});
  const int64_t deadline = monotonic_ns() + 20'000'000'000;
  while (producer.matched_subscriptions() == 0 && monotonic_ns() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  settle();
  std::vector<uint8_t> frame(md.frame_bytes(), 7);
  const TensorView view(frame.data(), DType::kUInt8, {h, w, 3});
  paced(o.warmup + o.frames, o.rate_hz, [&](uint64_t) {
    const int64_t now = realtime_ns();
    std::memcpy(frame.data(), &now, sizeof now);
    producer.put(view);
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(500));  // the last frames
  std::vector<int64_t> samples;
  for (auto& part : crew.finish(true)) samples.insert(samples.end(), part.begin(), part.end());
  Result r;
  r.bytes = static_cast<int64_t>(md.frame_bytes());
  r.delivered = samples.size();
  r.latency = summarize(std::move(samples));
  return r;
}

int run(const Options& o) {
  // A domain of this run's own, so that nothing else on the machine matches.
  ::setenv("ROS_DOMAIN_ID", std::to_string(150 + ::getpid() % 80).c_str(), 1);
  std::vector<Result> results;
  for (size_t i = 0; i < o.sizes.size(); ++i) {
    const auto [h, w] = o.sizes[i];
    results.push_back(measure(o, h, w, static_cast<int>(i)));
    const Result& r = results.back();
    std::fprintf(stderr,
                 "%lld B at %.0f Hz: p50 %.2f ms, p90 %.2f ms, p99 %.2f ms, max %.2f ms; "
                 "%llu of %llu delivered\n",
                 static_cast<long long>(r.bytes), o.rate_hz, r.latency.p50_us / 1e3,
                 r.latency.p90_us / 1e3, r.latency.p99_us / 1e3, r.latency.max_us / 1e3,
                 static_cast<unsigned long long>(r.delivered),
                 static_cast<unsigned long long>(o.frames));
  }
  std::ostringstream json;
  json << "{\n  " << machine_json_fields() << ",\n  \"config\": {\"frames\": " << o.frames
       << ", \"warmup\": " << o.warmup << ", \"rate_hz\": " << o.rate_hz
       << ", \"transport\": \"Cyclone DDS, loopback, large-sample settings, reliable depth 64\""
       << "},\n  \"results\": [";
  for (size_t i = 0; i < results.size(); ++i) {
    const Result& r = results[i];
    json << (i ? ",\n    " : "\n    ") << "{\"bytes\": " << r.bytes
         << ", \"delivered\": " << r.delivered << ", \"p50_us\": " << r.latency.p50_us
         << ", \"p90_us\": " << r.latency.p90_us << ", \"p99_us\": " << r.latency.p99_us
         << ", \"max_us\": " << r.latency.max_us << "}";
  }
  json << "\n  ]\n}\n";
  write_report(o.out, json.str());
  return 0;
}

[[noreturn]] void usage(const std::string& why) {
  std::fprintf(stderr,
               "tipc_bench_ros2: %s\nusage: tipc_bench_ros2 [--out FILE] [--frames 1000] "
               "[--warmup 30] [--rate 30] [--sizes 480x640,960x1280]\n",
               why.c_str());
  std::exit(2);
}

}  // namespace
}  // namespace tensoripc::bench

int main(int argc, char** argv) {
  using namespace tensoripc::bench;
  const Flags flag(argc, argv, usage);
  try {
    if (flag("role") == "subscriber") {
      return run_subscriber(flag("topic"), std::stoll(flag("height")), std::stoll(flag("width")),
                            std::stoull(flag("warmup", "30")), flag("out"));
    }
    Options o;
    o.frames = std::stoull(flag("frames", "1000"));
    o.warmup = std::stoull(flag("warmup", "30"));
    o.rate_hz = std::stod(flag("rate", "30"));
    o.out = flag("out");
    if (flag.given("sizes")) {
      o.sizes.clear();
      for (const std::string& s : split(flag("sizes"), ',')) {
        const auto x = s.find('x');
        if (x == std::string::npos) usage("a size is HxW, not " + s);
        o.sizes.emplace_back(std::stoll(s.substr(0, x)), std::stoll(s.substr(x + 1)));
      }
    }
    return run(o);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "tipc_bench_ros2: %s\n", e.what());
    return 1;
  }
}
