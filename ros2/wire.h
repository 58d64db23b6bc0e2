#pragma once
// The ROS 2 wire conventions, in one place: what a DDS entity must look like
// for a ROS 2 node (rmw_cyclonedds_cpp, rmw_fastrtps_cpp) to match it. Checked
// against the rmw sources (issue 13):
//
//   topic name   "rt" + the ROS name: /camera/image_raw -> rt/camera/image_raw
//   type name    <pkg>::msg::dds_::<Type>_ (the IDL in ros2/idl/ names them)
//   keys         none
//   data repr.   XCDR1 only: a writer offering XCDR2 first never matches ROS
//   type info    not sent (idlc -t): ROS matches on the type name alone
//   QoS          default: reliable, keep_last 10, volatile;
//                sensor data: best-effort, keep_last 5, volatile
//   domain       ROS_DOMAIN_ID (default 0)
//   localhost    ROS_LOCALHOST_ONLY=1 or ROS_AUTOMATIC_DISCOVERY_RANGE=LOCALHOST:
//                multicast off, loopback only, peers on localhost
//
// Nothing here knows about pools; ros2/convert.h maps messages to tensors.

#include <dds/dds.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "tensoripc/dtype.h"

namespace tensoripc::ros2 {

// The ROS message types the bridge speaks.
enum class MessageType : uint8_t {
  kImage,  // sensor_msgs/Image
  kFloat32MultiArray,
  kFloat64MultiArray,
  kInt8MultiArray,
  kInt16MultiArray,
  kInt32MultiArray,
  kInt64MultiArray,
  kUInt8MultiArray,
  kUInt16MultiArray,
  kUInt32MultiArray,
  kUInt64MultiArray,
};

// "sensor_msgs/msg/Image", the name ROS tools print.
std::string_view ros_type_name(MessageType type);
// "sensor_msgs::msg::dds_::Image_", the name on the wire.
std::string_view dds_type_name(MessageType type);
// Accepts "sensor_msgs/msg/Image", "sensor_msgs/Image" or the DDS name.
std::optional<MessageType> parse_message_type(std::string_view name);
// The idlc-generated descriptor of the type.
const dds_topic_descriptor_t* descriptor(MessageType type);

// The std_msgs/*MultiArray type whose data has this dtype; nullopt for dtypes
// ROS has no array message for (bool, float16, complex, ...).
std::optional<MessageType> multi_array_type(DType dtype);
// The element dtype of a MultiArray type (not for kImage).
DType multi_array_dtype(MessageType type);

// "/camera/image_raw" or "camera/image_raw" -> "rt/camera/image_raw". Throws
// InvalidArgumentError for names ROS would refuse (empty, "//", trailing "/",
// characters outside [A-Za-z0-9_/], a token starting with a digit).
std::string dds_topic_name(std::string_view ros_topic);

// QoS as ROS names it.
enum class Reliability : uint8_t { kReliable, kBestEffort };
struct QosProfile {
  Reliability reliability = Reliability::kReliable;
  int32_t depth = 10;  // keep_last depth
  static QosProfile ros_default() { return {Reliability::kReliable, 10}; }
  static QosProfile sensor_data() { return {Reliability::kBestEffort, 5}; }
};

struct QosDeleter {
  void operator()(dds_qos_t* qos) const { dds_delete_qos(qos); }
};
using QosPtr = std::unique_ptr<dds_qos_t, QosDeleter>;
// A reader or writer QoS as ROS makes it: the profile, volatile durability,
// and XCDR1 as the only data representation.
QosPtr make_qos(const QosProfile& profile);

// How a participant joins the DDS domain. Unset fields come from the ROS
// environment variables, as a ROS node's would.
struct ParticipantOptions {
  std::optional<uint32_t> domain_id;   // default: ROS_DOMAIN_ID, else 0
  std::optional<bool> localhost_only;  // default: the ROS env vars (above)
  // Transport settings for camera-sized samples (MBs): 64 KB datagrams and
  // fragments, a 4 MiB socket receive buffer, a deeper writer history cache.
  bool large_samples = false;
};

// The domain id the ROS environment asks for: ROS_DOMAIN_ID, else 0. Throws
// InvalidArgumentError for a value that is not a number in [0, 232].
uint32_t ros_domain_id_from_env();
// Whether the ROS environment asks for localhost-only discovery.
bool ros_localhost_only_from_env();
// The Cyclone configuration (XML) the options ask for; "" when the defaults do.
std::string cyclone_config(bool localhost_only, bool large_samples);

// A DDS domain participant, the bridge's stand-in for a ROS node. Owns the
// participant (and so every reader, writer and topic made under it). The
// handle may be used from any thread (Cyclone's API is thread-safe).
// A process configures a domain once: the first Participant of a domain id
// that needs a configuration (localhost_only, large_samples) sets it, and it
// stands for every later Participant of that id in the process.
class Participant {
 public:
  explicit Participant(ParticipantOptions options = {});
  ~Participant();
  Participant(const Participant&) = delete;
  Participant& operator=(const Participant&) = delete;

  dds_entity_t handle() const { return participant_; }
  uint32_t domain_id() const { return domain_id_; }
  bool localhost_only() const { return localhost_only_; }

 private:
  dds_entity_t participant_ = 0;
  uint32_t domain_id_ = 0;
  bool localhost_only_ = false;
};

// Throws RuntimeError with `what` and Cyclone's text when rc < 0; returns rc.
dds_return_t check_dds(dds_return_t rc, std::string_view what);

}  // namespace tensoripc::ros2
