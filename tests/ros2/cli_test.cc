// tensor-ipc-ros2 publish on one side, tensor-ipc-ros2 subscribe on the
// other, each with its own tensor-ipcd: a producer's pool on A reaches a
// consumer of the same pool name on B, every frame checked.
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
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

TEST(Ros2Cli, PublishAndSubscribeCarryAPoolAcross) {
  constexpr int kFrames = 100;
  const std::vector<int64_t> shape = {32, 40, 3};
  const PoolMetadata metadata = PoolMetadata::create("camera_feed", shape, DType::kUInt8, 16);
  DaemonProcess daemon_a, daemon_b;
  const std::string domain = "ROS_DOMAIN_ID=" + std::to_string(100 + (getpid() + 50) % 100);
  auto env = [&](const DaemonProcess& d) {
    std::vector<std::string> e = d.client_env();
    e.push_back(domain);
    e.push_back("ROS_LOCALHOST_ONLY=1");
    return e;
  };
  auto cli = [&](const char* mode) {
    return std::vector<std::string>{
        TIPC_ROS2_CLI, mode,      "--pool",     "camera_feed", "--topic",   "/tipc_cli/image_raw",
        "--shape",     "32,40,3", "--encoding", "rgb8",        "--history", "16"};
  };

  // B: the subscribing bridge, and a plain consumer of its pool.
  ChildProcess subscriber(cli("subscribe"), env(daemon_b), ChildProcess::Capture::kStdoutAndStderr);
  ASSERT_TRUE(subscriber.wait_for_line("SUBSCRIBED rt/tipc_cli/image_raw", seconds(20)));
  CheckingConsumer local(metadata, daemon_b.socket_path());
  ASSERT_TRUE(local.connected(seconds(10)));

  // A: a producer, and the publishing bridge reading its pool.
  ProducerOptions producer_options;
  producer_options.socket_path = daemon_a.socket_path();
  Producer producer(metadata, producer_options);
  ChildProcess publisher(cli("publish"), env(daemon_a), ChildProcess::Capture::kStdoutAndStderr);
  // Ready when the bridge on A has its consumer connected and both DDS ends
  // matched (the lines come in either order).
  int ready = 0;
  const auto deadline = std::chrono::steady_clock::now() + seconds(30);
  while (ready < 2 && std::chrono::steady_clock::now() < deadline) {
    auto line = publisher.read_line(milliseconds(200));
    if (line && (*line == "CONNECTED" || *line == "MATCHED")) ++ready;
  }
  ASSERT_EQ(ready, 2) << "tensor-ipc-ros2 publish did not connect and match";
  ASSERT_TRUE(subscriber.wait_for_line("MATCHED", seconds(30)));

  std::vector<uint8_t> frame(metadata.frame_bytes());
  for (uint64_t seq = 1; seq <= kFrames; ++seq) {
    fill_test_frame(frame.data(), frame.size(), seq);
    producer.put(TensorView(frame.data(), DType::kUInt8, Shape(shape)));
    std::this_thread::sleep_for(milliseconds(3));
  }
  local.expect_every_frame(kFrames, seconds(20));

  // Each prints its counts as JSON on SIGTERM.
  subscriber.signal(SIGTERM);
  auto counts = subscriber.wait_for_line("{", seconds(10));
  ASSERT_TRUE(counts);
  EXPECT_EQ(*counts, "{\"received\": 100, \"written\": 100, \"rejected\": 0}");
  publisher.signal(SIGTERM);
  counts = publisher.wait_for_line("{", seconds(10));
  ASSERT_TRUE(counts);
  EXPECT_NE(counts->find("\"published\": 100, \"failed\": 0"), std::string::npos) << *counts;
  // Both exit 0 on SIGTERM (and, under ASan, without a leak report).
  for (ChildProcess* bridge : {&subscriber, &publisher}) {
    const auto status = bridge->wait(seconds(20));
    ASSERT_TRUE(status);
    EXPECT_TRUE(WIFEXITED(*status) && WEXITSTATUS(*status) == 0) << *status;
  }
}

TEST(Ros2Cli, RefusesAPoolThatIsNotTheEncoding) {
  ChildProcess cli({TIPC_ROS2_CLI, "publish", "--pool", "p", "--topic", "/t", "--shape", "4,5",
                    "--encoding", "rgb8"},
                   {}, ChildProcess::Capture::kStdoutAndStderr);
  auto line = cli.wait_for_line("tensor-ipc-ros2:", seconds(10));
  ASSERT_TRUE(line);
  EXPECT_NE(line->find("'rgb8' image"), std::string::npos) << *line;
  auto status = cli.wait(seconds(10));
  ASSERT_TRUE(status);
  EXPECT_TRUE(WIFEXITED(*status) && WEXITSTATUS(*status) == 1);
}

}  // namespace
}  // namespace tensoripc::testing
