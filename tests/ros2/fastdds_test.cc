// A second DDS vendor: Fast DDS, configured as rmw_fastrtps_cpp configures
// it (tests/ros2/fastdds_peer.cc) with the socket buffers of
// ros2/fastdds-large-frames.xml, exchanges sensor_msgs/Image with the
// command-line bridge on loopback, both ways, VGA rgb8 frames (921,600 B,
// fragmented on the wire) at 30 Hz, every frame checked by the receiving side.
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include "tensoripc/consumer.h"
#include "tensoripc/producer.h"
#include "tests/client/frame_pattern.h"
#include "tests/ros2/checking_consumer.h"
#include "tests/support/process.h"

namespace tensoripc::testing {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

constexpr int kFrames = 30;
const std::vector<int64_t> kShape = {480, 640, 3};

std::vector<std::string> ros_env(const DaemonProcess& daemon) {
  std::vector<std::string> env = daemon.client_env();
  env.push_back("ROS_DOMAIN_ID=" + std::to_string(100 + (getpid() + 75) % 100));
  env.push_back("ROS_LOCALHOST_ONLY=1");
  return env;
}

std::vector<std::string> bridge_args(const char* mode, const std::string& topic) {
  return {TIPC_ROS2_CLI, mode,      "--pool",   "fastdds_feed", "--topic", topic,
          "--shape",     "480,640,3", "--encoding", "rgb8",      "--history", "16",
          "--large-frames"};
}

// Reads "KEY=N" out of a line such as "RECEIVED intact=30 torn=0 ...".
long field(const std::string& line, const std::string& key) {
  const size_t at = line.find(key + "=");
  return at == std::string::npos ? -1 : std::stol(line.substr(at + key.size() + 1));
}

void expect_clean_exit(ChildProcess& child) {
  const auto status = child.wait(seconds(20));
  ASSERT_TRUE(status);
  EXPECT_TRUE(WIFEXITED(*status) && WEXITSTATUS(*status) == 0) << *status;
}

TEST(Ros2FastDds, ReceivesTheBridgesImagesIntact) {
  const PoolMetadata metadata = PoolMetadata::create("fastdds_feed", kShape, DType::kUInt8, 16);
  DaemonProcess daemon;
  ProducerOptions producer_options;
  producer_options.socket_path = daemon.socket_path();
  Producer producer(metadata, producer_options);

  ChildProcess peer({TIPC_FASTDDS_PEER, "receive", "--topic", "rt/tipc_fastdds/to_fastdds",
                     "--large-frames", "--timeout-s", "120"},
                    ros_env(daemon), ChildProcess::Capture::kStdoutAndStderr);
  ChildProcess bridge(bridge_args("publish", "/tipc_fastdds/to_fastdds"), ros_env(daemon),
                      ChildProcess::Capture::kStdoutAndStderr);
  int ready = 0;  // CONNECTED and MATCHED, in either order
  const auto deadline = std::chrono::steady_clock::now() + seconds(30);
  while (ready < 2 && std::chrono::steady_clock::now() < deadline) {
    auto line = bridge.read_line(milliseconds(200));
    if (line && (*line == "CONNECTED" || *line == "MATCHED")) ++ready;
  }
  ASSERT_EQ(ready, 2) << "tensor-ipc-ros2 publish did not connect and match Fast DDS";
  ASSERT_TRUE(peer.wait_for_line("MATCHED", seconds(30))) << "Fast DDS did not match the bridge";

  // Frames at 30 Hz until the first reaches Fast DDS: a volatile reader
  // counts only what its writer sends after both ends have met (discovery
  // and the first heartbeat), so the first few may be before its time. From
  // the first on, every frame must arrive.
  std::vector<uint8_t> frame(metadata.frame_bytes());
  uint64_t seq = 0;
  auto put_next = [&] {
    fill_test_frame(frame.data(), frame.size(), ++seq);
    producer.put(TensorView(frame.data(), DType::kUInt8, Shape(kShape)));
    std::this_thread::sleep_for(milliseconds(33));
  };
  uint64_t first = 0;
  while (first == 0 && seq < 300) {
    put_next();
    while (auto line = peer.read_line(milliseconds(1))) {
      if (first == 0 && line->rfind("FRAME ", 0) == 0) first = std::stoull(line->substr(6));
    }
  }
  ASSERT_NE(first, 0u) << "no frame reached Fast DDS in " << seq << " puts";
  for (int i = 0; i < kFrames; ++i) put_next();
  ASSERT_TRUE(peer.wait_for_line("FRAME " + std::to_string(seq), seconds(30)))
      << "frame " << seq << " never reached Fast DDS";
  peer.signal(SIGTERM);
  const auto received = peer.wait_for_line("RECEIVED", seconds(10));
  ASSERT_TRUE(received);
  // Every frame from the first on arrived whole, in order, as an rgb8
  // 480x640 image: none torn, none malformed, none missing.
  EXPECT_EQ(field(*received, "torn"), 0) << *received;
  EXPECT_EQ(field(*received, "bad"), 0) << *received;
  EXPECT_EQ(field(*received, "intact"), static_cast<long>(seq - first + 1)) << *received;
  EXPECT_NE(received->find("missing=[ ]"), std::string::npos) << *received;

  bridge.signal(SIGTERM);
  const auto counts = bridge.wait_for_line("{", seconds(10));
  ASSERT_TRUE(counts);
  EXPECT_NE(counts->find("\"published\": " + std::to_string(seq) + ", \"failed\": 0"),
            std::string::npos)
      << *counts;
  expect_clean_exit(peer);
  expect_clean_exit(bridge);
}

TEST(Ros2FastDds, TheBridgeWritesFastDdsImagesIntoAPool) {
  const PoolMetadata metadata = PoolMetadata::create("fastdds_feed", kShape, DType::kUInt8, 16);
  DaemonProcess daemon;
  ChildProcess bridge(bridge_args("subscribe", "/tipc_fastdds/from_fastdds"), ros_env(daemon),
                      ChildProcess::Capture::kStdoutAndStderr);
  ASSERT_TRUE(bridge.wait_for_line("SUBSCRIBED rt/tipc_fastdds/from_fastdds", seconds(20)));

  CheckingConsumer local(metadata, daemon.socket_path());
  ASSERT_TRUE(local.connected(seconds(10)));

  // Both ends matched before the first frame: a volatile reader drops what a
  // writer sent before the reader knew of it (ROS subscriptions alike).
  TempDir dir;
  const std::string go_file = dir.path() + "/go";
  ChildProcess peer({TIPC_FASTDDS_PEER, "send", "--topic", "rt/tipc_fastdds/from_fastdds",
                     "--frames", std::to_string(kFrames), "--height", "480", "--width", "640",
                     "--period-ms", "33", "--large-frames", "--timeout-s", "30", "--go-file",
                     go_file},
                    ros_env(daemon), ChildProcess::Capture::kStdoutAndStderr);
  ASSERT_TRUE(peer.wait_for_line("MATCHED", seconds(30))) << "Fast DDS did not match the bridge";
  ASSERT_TRUE(bridge.wait_for_line("MATCHED", seconds(30)));
  std::ofstream(go_file).put('\n');
  const auto sent = peer.wait_for_line("SENT", seconds(60));
  ASSERT_TRUE(sent) << "Fast DDS did not get its frames acknowledged";

  // Every Fast DDS frame from the first the bridge got reached the pool: a
  // local consumer saw it intact, or counts it as skipped (the ring moved on
  // before its turn). The first may come late on a loaded machine: Cyclone's
  // volatile reader takes the writer's samples from the first heartbeat it
  // sees, and what was already in flight before that is not repaired.
  local.expect_every_frame(kFrames, seconds(20), /*from_first=*/true);
  const uint64_t first = local.first_seq();
  EXPECT_LE(first, 5u) << "the bridge missed the first " << first - 1 << " frames";

  bridge.signal(SIGTERM);
  const auto counts = bridge.wait_for_line("{", seconds(10));
  ASSERT_TRUE(counts);
  const std::string n = std::to_string(kFrames - static_cast<int>(first - 1));
  EXPECT_EQ(*counts, "{\"received\": " + n + ", \"written\": " + n + ", \"rejected\": 0}");
  expect_clean_exit(peer);
  expect_clean_exit(bridge);
}

}  // namespace
}  // namespace tensoripc::testing
