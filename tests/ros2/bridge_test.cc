// RosTensorProducer and RosTensorConsumer in two processes, each with a
// tensor-ipcd of its own (as two hosts would have), over DDS on loopback:
// pool -> RosTensorProducer -> DDS -> RosTensorConsumer -> pool -> a local
// Consumer (in this test process), every frame checked.
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <ostream>
#include <string>
#include <vector>

#include "tensoripc/consumer.h"
#include "tests/client/frame_pattern.h"
#include "tests/ros2/checking_consumer.h"
#include "tests/support/process.h"

namespace tensoripc::testing {
namespace {

using std::chrono::seconds;

struct BridgeCase {
  const char* name;
  const char* type;  // encoding or MultiArray type
  std::vector<int64_t> shape;
  DType dtype;
  int frames = 200;
  int period_ms = 2;
  bool large = false;  // ParticipantOptions::large_samples on both sides
};

// Test names and ctest's list show the type, not the struct's bytes.
void PrintTo(const BridgeCase& c, std::ostream* os) { *os << c.name; }

class BridgeTest : public ::testing::TestWithParam<BridgeCase> {};

std::vector<std::string> peer_args(const char* mode, const BridgeCase& c) {
  return {TIPC_ROS2_PEER,
          mode,
          c.type,
          std::to_string(c.shape[0]),
          std::to_string(c.shape[1]),
          c.shape.size() == 3 ? std::to_string(c.shape[2]) : "0",
          std::to_string(c.frames),
          std::to_string(c.period_ms),
          c.large ? "large" : "default"};
}

TEST_P(BridgeTest, FramesCrossIntactFromPoolToPool) {
  const BridgeCase& c = GetParam();
  const int kFrames = c.frames;
  DaemonProcess daemon_a, daemon_b;  // the publishing and the subscribing side
  // A domain of this test's own, loopback only: parallel runs do not meet.
  const std::string domain = "ROS_DOMAIN_ID=" + std::to_string(100 + getpid() % 100);
  auto env = [&](const DaemonProcess& d) {
    std::vector<std::string> e = d.client_env();
    e.push_back(domain);
    e.push_back("ROS_LOCALHOST_ONLY=1");
    return e;
  };

  ChildProcess subscriber(peer_args("subscribe", c), env(daemon_b),
                          ChildProcess::Capture::kStdoutAndStderr);
  auto ready = subscriber.wait_for_line("READY", seconds(20));
  ASSERT_TRUE(ready) << "the RosTensorConsumer process did not start";

  // A plain local Consumer of the subscriber's pool, as any program on host B.
  // (keep_last 256: every frame of the run, however far behind it falls)
  CheckingConsumer local(PoolMetadata::create("camera", c.shape, c.dtype, 16),
                         daemon_b.socket_path(), /*keep_last=*/256);
  ASSERT_TRUE(local.connected(seconds(10)));

  TempDir dir;
  const std::string go_file = dir.path() + "/go";
  std::vector<std::string> publisher_env = env(daemon_a);
  publisher_env.push_back("TIPC_TEST_GO_FILE=" + go_file);
  ChildProcess publisher(peer_args("publish", c), publisher_env,
                         ChildProcess::Capture::kStdoutAndStderr);
  // Both ends matched before the first frame: a volatile reader drops what a
  // writer sent before the reader knew of it (ROS subscriptions alike).
  ASSERT_TRUE(subscriber.wait_for_line("MATCHED", seconds(30)));
  std::ofstream(go_file).put('\n');
  auto sent = publisher.wait_for_line("SENT", seconds(60));
  ASSERT_TRUE(sent) << "the RosTensorProducer process did not finish";
  auto verified = subscriber.wait_for_line("VERIFIED", seconds(60));
  ASSERT_TRUE(verified);
  // In the subscriber process, its own pool's frames: every one received
  // from DDS, and every one delivered intact to on_new_data or counted as
  // skipped or dropped (the ring moved on first: a loaded machine).
  unsigned long long v_intact = 0, v_bad = 0, v_counted = 0, v_received = 0;
  ASSERT_EQ(std::sscanf(verified->c_str(), "VERIFIED %llu %llu counted %llu received %llu",
                        &v_intact, &v_bad, &v_counted, &v_received),
            4)
      << *verified;
  EXPECT_EQ(v_received, static_cast<unsigned long long>(kFrames)) << *verified;
  EXPECT_EQ(v_bad, 0u) << *verified;
  EXPECT_EQ(v_intact + v_counted, static_cast<unsigned long long>(kFrames)) << *verified;
  EXPECT_GT(v_intact, 0u) << *verified;
  // A plain local Consumer of that pool: the same account.
  local.expect_every_frame(kFrames, seconds(10));
  // The subscriber then shuts down cleanly (and, under ASan, without a leak report).
  const auto status = subscriber.wait(seconds(20));
  ASSERT_TRUE(status);
  EXPECT_TRUE(WIFEXITED(*status) && WEXITSTATUS(*status) == 0) << *status;
}

INSTANTIATE_TEST_SUITE_P(
    Ros2, BridgeTest,
    ::testing::Values(
        BridgeCase{"rgb8", "rgb8", {48, 64, 3}, DType::kUInt8},
        BridgeCase{"32FC1", "32FC1", {24, 32}, DType::kFloat32},
        BridgeCase{"Float32MultiArray", "Float32MultiArray", {4, 6}, DType::kFloat32},
        BridgeCase{"Int64MultiArray", "Int64MultiArray", {3, 5}, DType::kInt64},
        // A 1280x960 rgb8 camera at 30 Hz: 3,686,400 B frames. With
        // Cyclone's defaults none arrived here in 60 s; with the
        // large-sample settings (ros2/wire.h) all do.
        BridgeCase{
            "rgb8_1280x960_30Hz_large", "rgb8", {960, 1280, 3}, DType::kUInt8, 60, 33, true}),
    [](const ::testing::TestParamInfo<BridgeCase>& info) { return std::string(info.param.name); });

}  // namespace
}  // namespace tensoripc::testing
