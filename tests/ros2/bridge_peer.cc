// One side of the bridge test, as a process of its own (the daemon is the
// one TENSOR_IPC_SOCKET names; the DDS domain is ROS_DOMAIN_ID's, loopback
// only through ROS_LOCALHOST_ONLY):
//
//   ros2_bridge_peer publish   TYPE H W C FRAMES   RosTensorProducer on pool
//       "camera": waits for a subscription (and for the file
//       $TIPC_TEST_GO_FILE, if set, to exist), puts FRAMES test frames (seq
//       1..FRAMES, tests/client/frame_pattern.h), prints "SENT n", then stays
//       30 s (the test kills it sooner).
//   ros2_bridge_peer subscribe TYPE H W C FRAMES   RosTensorConsumer into pool
//       "camera": prints "READY" once the pool exists, then "MATCHED" when
//       a publisher matched and its Consumer is connected; checks every frame it reads back from
//       its pool and prints "VERIFIED <intact> <bad>" when FRAMES intact arrived or after 60 s.
//
// TYPE is an Image encoding (rgb8, mono16, ...) or "Float32MultiArray" etc.;
// C is 0 for a frame of rank 2. PERIOD_MS (default 2) paces the publisher;
// "large" asks for the transport settings for MB-sized samples.
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <thread>
#include <vector>

#include "ros2/convert.h"
#include "ros2/ros_tensor.h"
#include "tests/client/frame_pattern.h"

using namespace tensoripc;
using namespace tensoripc::ros2;
using namespace std::chrono;

int main(int argc, char** argv) {
  if (argc < 7 || argc > 9) {
    std::fprintf(stderr, "usage: %s publish|subscribe TYPE H W C FRAMES [PERIOD_MS [large]]\n",
                 argv[0]);
    return 2;
  }
  const int period_ms = argc > 7 ? std::atoi(argv[7]) : 2;
  ParticipantOptions participant_options;
  participant_options.large_samples = argc > 8 && std::string(argv[8]) == "large";
  const std::string mode = argv[1], type_arg = argv[2];
  std::vector<int64_t> shape = {std::atoll(argv[3]), std::atoll(argv[4])};
  if (std::atoll(argv[5]) > 0) shape.push_back(std::atoll(argv[5]));
  const uint64_t frames = std::strtoull(argv[6], nullptr, 10);

  MessageType type = MessageType::kImage;
  RosTensorOptions options;
  // Room for every frame of a run, in DDS's reliable history and in the
  // subscriber's event queue: on a slow machine (ASan, 2 CPUs) keep_last 10
  // lets a reader that falls behind lose a frame to overwriting.
  options.keep_last = 256;
  DType dtype;
  if (auto enc = parse_image_encoding(type_arg)) {
    options.encoding = type_arg;
    dtype = enc->dtype;
  } else {
    type = *parse_message_type("std_msgs/msg/" + type_arg);
    dtype = multi_array_dtype(type);
  }
  const PoolMetadata metadata = PoolMetadata::create("camera", shape, dtype, /*history_len=*/16);
  const size_t bytes = metadata.frame_bytes();

  try {
    Participant participant(participant_options);
    if (mode == "publish") {
      RosTensorProducer producer(metadata, participant, "/tipc_test/camera", type, options);
      const auto deadline = steady_clock::now() + seconds(30);
      while (producer.matched_subscriptions() == 0 && steady_clock::now() < deadline) {
        std::this_thread::sleep_for(milliseconds(10));
      }
      if (producer.matched_subscriptions() == 0) {
        std::printf("NO_SUBSCRIBER\n");
        return 1;
      }
      // The writer knowing the reader is half of a match: a volatile reader
      // that has not matched the writer yet drops what comes before. The
      // test says when the subscriber has matched too, by making this file.
      if (const char* go = std::getenv("TIPC_TEST_GO_FILE")) {
        while (access(go, F_OK) != 0 && steady_clock::now() < deadline) {
          std::this_thread::sleep_for(milliseconds(5));
        }
      }
      std::vector<uint8_t> frame(bytes);
      for (uint64_t seq = 1; seq <= frames; ++seq) {
        testing::fill_test_frame(frame.data(), bytes, seq);
        producer.put(TensorView(frame.data(), dtype, Shape(shape)));
        std::this_thread::sleep_for(milliseconds(period_ms));
      }
      std::printf("SENT %llu\n", static_cast<unsigned long long>(frames));
      std::fflush(stdout);
      // Stays, so that reliable delivery can finish, until the test ends it.
      std::this_thread::sleep_for(seconds(30));
      return 0;
    }

    std::atomic<uint64_t> intact{0}, bad{0};
    ConsumerOptions consumer_options;
    consumer_options.keep_last = 256;
    consumer_options.on_new_data = [&](const Frame& frame) {
      uint64_t seq = 0;
      const auto check = testing::check_test_frame(static_cast<const uint8_t*>(frame.tensor.data()),
                                                   frame.tensor.nbytes(), &seq);
      (check == testing::FrameCheck::kIntact ? intact : bad)++;
    };
    RosTensorConsumer consumer(metadata, participant, "/tipc_test/camera", type, options,
                               consumer_options);
    std::printf("READY\n");
    std::fflush(stdout);
    auto deadline = steady_clock::now() + seconds(30);
    // Matched, and its own Consumer's frame events flowing (else the first
    // frames would be in the pool but not seen by on_new_data).
    while ((consumer.matched_publications() == 0 || !consumer.pool_status().connected) &&
           steady_clock::now() < deadline) {
      std::this_thread::sleep_for(milliseconds(10));
    }
    std::printf("MATCHED\n");
    std::fflush(stdout);
    // Every frame is delivered to on_new_data or counted: skipped (the ring
    // moved on before the callback's turn) or dropped (overwritten before
    // tensor-ipcd announced it), as can happen on a loaded machine.
    auto counted = [&] {
      const ConsumerStatus s = consumer.pool_status();
      return s.skipped + s.dropped;
    };
    deadline = steady_clock::now() + seconds(60);
    while (intact.load() + bad.load() + counted() < frames && steady_clock::now() < deadline) {
      std::this_thread::sleep_for(milliseconds(10));
    }
    const RosConsumerStatus status = consumer.status();
    std::printf("VERIFIED %llu %llu counted %llu received %llu rejected %llu %s\n",
                static_cast<unsigned long long>(intact.load()),
                static_cast<unsigned long long>(bad.load()),
                static_cast<unsigned long long>(counted()),
                static_cast<unsigned long long>(status.received),
                static_cast<unsigned long long>(status.rejected), status.last_error.c_str());
    std::fflush(stdout);
    return 0;
  } catch (const std::exception& e) {
    std::printf("ERROR %s\n", e.what());
    return 1;
  }
}
