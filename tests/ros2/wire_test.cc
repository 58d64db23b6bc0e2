// The ROS 2 wire conventions (ros2/wire.h): names, QoS, environment.
#include "ros2/wire.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <cstring>

#include "tensoripc/error.h"

namespace tensoripc::ros2 {
namespace {

// Sets an environment variable for one scope, restoring what was there.
class ScopedEnv {
 public:
  ScopedEnv(const char* name, const char* value) : name_(name) {
    if (const char* old = getenv(name)) old_ = old, had_ = true;
    if (value) {
      setenv(name, value, 1);
    } else {
      unsetenv(name);
    }
  }
  ~ScopedEnv() {
    if (had_) {
      setenv(name_, old_.c_str(), 1);
    } else {
      unsetenv(name_);
    }
  }

 private:
  const char* name_;
  std::string old_;
  bool had_ = false;
};

TEST(Ros2Wire, TopicNamesGetTheRtPrefix) {
  EXPECT_EQ(dds_topic_name("/camera/image_raw"), "rt/camera/image_raw");
  EXPECT_EQ(dds_topic_name("chatter"), "rt/chatter");  // relative: the root namespace
  EXPECT_EQ(dds_topic_name("/a_1/b2"), "rt/a_1/b2");
  for (const char* bad :
       {"", "/", "/camera/", "//camera", "/camera//x", "/1camera", "/cam-era", "/cam era", "/~x"}) {
    EXPECT_THROW(dds_topic_name(bad), InvalidArgumentError) << bad;
  }
}

TEST(Ros2Wire, TypeNamesAreRosidlsAndMatchTheGeneratedDescriptors) {
  EXPECT_EQ(dds_type_name(MessageType::kImage), "sensor_msgs::msg::dds_::Image_");
  EXPECT_EQ(dds_type_name(MessageType::kFloat32MultiArray),
            "std_msgs::msg::dds_::Float32MultiArray_");
  EXPECT_EQ(ros_type_name(MessageType::kUInt16MultiArray), "std_msgs/msg/UInt16MultiArray");
  for (int i = 0; i <= static_cast<int>(MessageType::kUInt64MultiArray); ++i) {
    const auto type = static_cast<MessageType>(i);
    SCOPED_TRACE(std::string(ros_type_name(type)));
    EXPECT_EQ(descriptor(type)->m_typename, dds_type_name(type));
    EXPECT_EQ(descriptor(type)->m_nkeys, 0u);  // ROS messages have no keys
    EXPECT_EQ(parse_message_type(ros_type_name(type)), type);
    EXPECT_EQ(parse_message_type(dds_type_name(type)), type);
  }
  EXPECT_EQ(parse_message_type("sensor_msgs/Image"), MessageType::kImage);
  EXPECT_EQ(parse_message_type("std_msgs/Int8MultiArray"), MessageType::kInt8MultiArray);
  EXPECT_FALSE(parse_message_type("sensor_msgs/msg/PointCloud2").has_value());
}

TEST(Ros2Wire, MultiArrayTypeForEachDtype) {
  EXPECT_EQ(multi_array_type(DType::kFloat32), MessageType::kFloat32MultiArray);
  EXPECT_EQ(multi_array_type(DType::kFloat64), MessageType::kFloat64MultiArray);
  EXPECT_EQ(multi_array_type(DType::kInt8), MessageType::kInt8MultiArray);
  EXPECT_EQ(multi_array_type(DType::kInt64), MessageType::kInt64MultiArray);
  EXPECT_EQ(multi_array_type(DType::kUInt8), MessageType::kUInt8MultiArray);
  EXPECT_EQ(multi_array_type(DType::kUInt64), MessageType::kUInt64MultiArray);
  EXPECT_FALSE(multi_array_type(DType::kBool).has_value());
  EXPECT_FALSE(multi_array_type(DType::kFloat16).has_value());
  EXPECT_FALSE(multi_array_type(DType::kComplex64).has_value());
  for (DType d : {DType::kFloat32, DType::kInt16, DType::kUInt32}) {
    EXPECT_EQ(multi_array_dtype(*multi_array_type(d)), d);
  }
  EXPECT_THROW(multi_array_dtype(MessageType::kImage), InvalidArgumentError);
}

TEST(Ros2Wire, QosIsRosAndXcdr1Only) {
  struct Case {
    QosProfile profile;
    dds_reliability_kind_t reliability;
    int32_t depth;
  };
  for (const Case& c : {Case{QosProfile::ros_default(), DDS_RELIABILITY_RELIABLE, 10},
                        Case{QosProfile::sensor_data(), DDS_RELIABILITY_BEST_EFFORT, 5},
                        Case{{Reliability::kReliable, 3}, DDS_RELIABILITY_RELIABLE, 3}}) {
    const QosPtr qos = make_qos(c.profile);
    dds_reliability_kind_t reliability;
    ASSERT_TRUE(dds_qget_reliability(qos.get(), &reliability, nullptr));
    EXPECT_EQ(reliability, c.reliability);
    dds_history_kind_t history;
    int32_t depth = 0;
    ASSERT_TRUE(dds_qget_history(qos.get(), &history, &depth));
    EXPECT_EQ(history, DDS_HISTORY_KEEP_LAST);
    EXPECT_EQ(depth, c.depth);
    dds_durability_kind_t durability;
    ASSERT_TRUE(dds_qget_durability(qos.get(), &durability));
    EXPECT_EQ(durability, DDS_DURABILITY_VOLATILE);
    uint32_t n = 0;
    dds_data_representation_id_t* ids = nullptr;
    ASSERT_TRUE(dds_qget_data_representation(qos.get(), &n, &ids));
    ASSERT_EQ(n, 1u);
    EXPECT_EQ(ids[0], DDS_DATA_REPRESENTATION_XCDR1);
    dds_free(ids);
  }
  EXPECT_THROW(make_qos({Reliability::kReliable, 0}), InvalidArgumentError);
}

TEST(Ros2Wire, DomainIdFromRosDomainId) {
  {
    ScopedEnv env("ROS_DOMAIN_ID", nullptr);
    EXPECT_EQ(ros_domain_id_from_env(), 0u);
  }
  {
    ScopedEnv env("ROS_DOMAIN_ID", "42");
    EXPECT_EQ(ros_domain_id_from_env(), 42u);
  }
  for (const char* bad : {"x", "-1", "233", "4 2"}) {
    ScopedEnv env("ROS_DOMAIN_ID", bad);
    EXPECT_THROW(ros_domain_id_from_env(), InvalidArgumentError) << bad;
  }
}

TEST(Ros2Wire, LocalhostOnlyFromEitherRosVariable) {
  ScopedEnv a("ROS_LOCALHOST_ONLY", nullptr);
  ScopedEnv b("ROS_AUTOMATIC_DISCOVERY_RANGE", nullptr);
  EXPECT_FALSE(ros_localhost_only_from_env());
  {
    ScopedEnv on("ROS_LOCALHOST_ONLY", "1");
    EXPECT_TRUE(ros_localhost_only_from_env());
  }
  {
    ScopedEnv off("ROS_LOCALHOST_ONLY", "0");
    EXPECT_FALSE(ros_localhost_only_from_env());
  }
  {
    ScopedEnv range("ROS_AUTOMATIC_DISCOVERY_RANGE", "LOCALHOST");
    EXPECT_TRUE(ros_localhost_only_from_env());
  }
  {
    ScopedEnv range("ROS_AUTOMATIC_DISCOVERY_RANGE", "SUBNET");
    EXPECT_FALSE(ros_localhost_only_from_env());
  }
}

TEST(Ros2Wire, CycloneConfigOnlyWhenAsked) {
  EXPECT_EQ(cyclone_config(false, false), "");
  const std::string local = cyclone_config(true, false);
  EXPECT_NE(local.find("<AllowMulticast>false</AllowMulticast>"), std::string::npos);
  EXPECT_NE(local.find("127.0.0.1"), std::string::npos);
  EXPECT_NE(local.find("<Peer address=\"localhost\"/>"), std::string::npos);
  EXPECT_EQ(local.find("FragmentSize"), std::string::npos);
  const std::string large = cyclone_config(false, true);
  EXPECT_NE(large.find("<FragmentSize>65000B</FragmentSize>"), std::string::npos);
  EXPECT_EQ(large.find("AllowMulticast"), std::string::npos);
}

// Cyclone accepts the configuration: a participant made with it exists, in
// the domain asked for.
TEST(Ros2Wire, ParticipantWithTheRosConfiguration) {
  ScopedEnv uri("CYCLONEDDS_URI", nullptr);
  ScopedEnv id("ROS_DOMAIN_ID", "77");
  ScopedEnv local("ROS_LOCALHOST_ONLY", "1");
  Participant participant(ParticipantOptions{std::nullopt, std::nullopt, /*large_samples=*/true});
  EXPECT_GT(participant.handle(), 0);
  EXPECT_EQ(participant.domain_id(), 77u);
  EXPECT_TRUE(participant.localhost_only());
  dds_domainid_t domain = 0;
  ASSERT_EQ(dds_get_domainid(participant.handle(), &domain), DDS_RETCODE_OK);
  EXPECT_EQ(domain, 77u);
}

}  // namespace
}  // namespace tensoripc::ros2
