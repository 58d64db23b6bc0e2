// tensor-ipc-ros2: the pool <-> ROS 2 topic bridge for people who write no
// code (issue 13).
//
//   tensor-ipc-ros2 publish   --pool camera_feed --topic /camera/image_raw
//                             --shape 480,640,3 --encoding rgb8
//       every frame of the pool is published on the topic
//   tensor-ipc-ros2 subscribe --pool camera_feed --topic /camera/image_raw
//                             --shape 480,640,3 --encoding rgb8
//       every message on the topic is written into the pool (this process is
//       its producer), where local consumers read it
//
// The pool's identity (shape, dtype, history) is given, as every client of
// the pool gives it. Runs until SIGINT/SIGTERM or --frames; prints progress
// lines (SUBSCRIBED, CONNECTED, MATCHED) and, at exit, one JSON line of counts.
#include <signal.h>

#include <CLI/CLI.hpp>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "common/process.h"
#include "ros2/convert.h"
#include "ros2/ros_tensor.h"
#include "ros2/wire.h"
#include "tensoripc/error.h"

namespace {

using namespace tensoripc;
using namespace tensoripc::ros2;

struct Args {
  std::string pool;
  std::string topic;
  std::string shape;
  std::string dtype;
  uint32_t history = 4;
  std::string type = "sensor_msgs/msg/Image";
  std::string encoding;
  std::string frame_id;
  std::string qos = "default";
  uint32_t depth = 0;
  bool large_frames = false;
  std::string socket;
  uint64_t frames = 0;
};

std::vector<int64_t> parse_shape(const std::string& text) {
  std::vector<int64_t> shape;
  std::string token;
  std::istringstream in(text);
  while (std::getline(in, token, ',')) {
    try {
      size_t used = 0;
      shape.push_back(std::stoll(token, &used));
      if (used != token.size()) throw std::invalid_argument(token);
    } catch (const std::exception&) {
      throw InvalidArgumentError("--shape '" + text + "': '" + token +
                                 "' is not a number (e.g. --shape 480,640,3)");
    }
  }
  return shape;
}

void print_line(const std::string& line) {
  std::printf("%s\n", line.c_str());
  std::fflush(stdout);
}

// Returns when a stop signal came or done() is true; polls `each` meanwhile.
template <typename Done, typename Each>
void run_until_stopped(const sigset_t& set, Done done, Each each) {
  const timespec tick{0, 50 * 1000 * 1000};
  while (!done()) {
    each();
    if (sigtimedwait(&set, nullptr, &tick) > 0) return;
  }
}

int run(const std::string& mode, const Args& args) {
  const sigset_t stop = block_stop_signals();
  const auto type = parse_message_type(args.type);
  if (!type)
    throw InvalidArgumentError("--type '" + args.type + "' is not a type the bridge speaks");
  const std::vector<int64_t> shape = parse_shape(args.shape);
  DType dtype;
  if (!args.dtype.empty()) {
    const auto parsed = parse_dtype_lenient(args.dtype);
    if (!parsed)
      throw InvalidArgumentError("--dtype '" + args.dtype + "': not one of " +
                                 dtype_names_joined());
    dtype = *parsed;
  } else if (*type != MessageType::kImage) {
    dtype = multi_array_dtype(*type);
  } else if (auto enc = parse_image_encoding(args.encoding)) {
    dtype = enc->dtype;
  } else {
    throw InvalidArgumentError("give --dtype, or an --encoding that implies it");
  }
  const PoolMetadata metadata = PoolMetadata::create(args.pool, shape, dtype, args.history);

  RosTensorOptions options;
  options.qos = args.qos == "sensor-data" ? QosProfile::sensor_data() : QosProfile::ros_default();
  options.keep_last = args.depth;
  options.encoding = args.encoding;
  options.frame_id = args.frame_id;
  ParticipantOptions participant_options;
  participant_options.large_samples = args.large_frames;
  Participant participant(participant_options);

  if (mode == "publish") {
    TopicWriter writer(participant, args.topic, *type, Shape(shape), dtype, options);
    std::atomic<uint64_t> published{0}, failed{0};
    ConsumerOptions consumer_options;
    consumer_options.socket_path = args.socket;
    // Frames are published from the consumer's notification thread, straight
    // out of the pool slot.
    consumer_options.on_new_data = [&](const Frame& frame) {
      if (frame.seq == 0) return;
      try {
        writer.write(frame.tensor, frame.timestamp_ns);
        ++published;
      } catch (const std::exception& e) {
        if (failed++ == 0) std::fprintf(stderr, "tensor-ipc-ros2: %s\n", e.what());
      }
    };
    Consumer consumer(metadata, consumer_options);
    print_line("SUBSCRIBED " + writer.dds_topic());
    bool connected = false, matched = false;
    run_until_stopped(
        stop, [&] { return args.frames != 0 && published.load() >= args.frames; },
        [&] {
          if (!connected && consumer.status().connected) print_line("CONNECTED"), connected = true;
          if (!matched && writer.matched_subscriptions() > 0) print_line("MATCHED"), matched = true;
        });
    consumer.cleanup();
    const ConsumerStatus status = consumer.status();
    std::printf("{\"published\": %llu, \"failed\": %llu, \"dropped\": %llu, \"skipped\": %llu}\n",
                static_cast<unsigned long long>(published.load()),
                static_cast<unsigned long long>(failed.load()),
                static_cast<unsigned long long>(status.dropped),
                static_cast<unsigned long long>(status.skipped));
    return 0;
  }

  ConsumerOptions consumer_options;
  consumer_options.socket_path = args.socket;
  ProducerOptions producer_options;
  producer_options.socket_path = args.socket;
  RosTensorConsumer bridge(metadata, participant, args.topic, *type, options, consumer_options,
                           producer_options);
  print_line("SUBSCRIBED " + bridge.dds_topic());
  bool matched = false;
  run_until_stopped(
      stop, [&] { return args.frames != 0 && bridge.status().received >= args.frames; },
      [&] {
        if (!matched && bridge.matched_publications() > 0) print_line("MATCHED"), matched = true;
      });
  const RosConsumerStatus status = bridge.status();
  bridge.cleanup();
  std::printf("{\"received\": %llu, \"written\": %llu, \"rejected\": %llu}\n",
              static_cast<unsigned long long>(status.received),
              static_cast<unsigned long long>(status.written),
              static_cast<unsigned long long>(status.rejected));
  if (!status.last_error.empty()) {
    std::fprintf(stderr, "tensor-ipc-ros2: last rejected message: %s\n", status.last_error.c_str());
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{
      "tensor-ipc-ros2: bridges a tensor-ipc pool and a ROS 2 topic, on ROS 2's own DDS wire "
      "format (Cyclone DDS; ROS_DOMAIN_ID and ROS_LOCALHOST_ONLY as ROS nodes read them)",
      "tensor-ipc-ros2"};
  app.require_subcommand(1);
  Args args;
  auto add_common = [&](CLI::App* sub) {
    sub->add_option("--pool", args.pool, "The pool's name")->required();
    sub->add_option("--topic", args.topic, "The ROS topic, e.g. /camera/image_raw")->required();
    sub->add_option("--shape", args.shape, "One frame's shape, e.g. 480,640,3")->required();
    sub->add_option("--dtype", args.dtype,
                    "Element dtype (default: the encoding's, or the MultiArray type's)");
    sub->add_option("--history", args.history, "The pool's history_len")->capture_default_str();
    sub->add_option("--type", args.type,
                    "sensor_msgs/msg/Image or std_msgs/msg/<Float32|...|UInt64>MultiArray")
        ->capture_default_str();
    sub->add_option(
        "--encoding", args.encoding,
        "Image encoding (rgb8, bgr8, mono8, mono16, 32FC1, ...; default from the shape)");
    sub->add_option("--frame-id", args.frame_id, "header.frame_id of published images");
    sub->add_option("--qos", args.qos,
                    "default (reliable, depth 10) or sensor-data (best-effort, depth 5)")
        ->check(CLI::IsMember({"default", "sensor-data"}))
        ->capture_default_str();
    sub->add_option("--depth", args.depth, "DDS history depth (keep_last); 0: the profile's");
    sub->add_flag("--large-frames", args.large_frames,
                  "Transport settings for MB-sized frames (64 KB fragments, 4 MiB receive buffer)");
    sub->add_option("--socket", args.socket,
                    "tensor-ipcd's socket (default: $TENSOR_IPC_SOCKET, ...)");
    sub->add_option("--frames", args.frames,
                    "Stop after this many frames (0: run until signalled)");
  };
  CLI::App* publish = app.add_subcommand("publish", "Publish every frame of a pool on a ROS topic");
  CLI::App* subscribe =
      app.add_subcommand("subscribe", "Write every message of a ROS topic into a pool");
  add_common(publish);
  add_common(subscribe);
  CLI11_PARSE(app, argc, argv);
  try {
    return run(publish->parsed() ? "publish" : "subscribe", args);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "tensor-ipc-ros2: %s\n", e.what());
    return 1;
  }
}
