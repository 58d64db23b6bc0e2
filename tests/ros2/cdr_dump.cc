// Prints, as JSON, the serialized samples Cyclone DDS sends for a fixed
// sensor_msgs/Image and std_msgs/Float32MultiArray: each written by a writer
// with the bridge's QoS (ros2/wire.h) and taken back as CDR by a reader of the
// same participant, encapsulation header included. golden_test.js compares
// them with an independent ROS 2 serializer's bytes.
//
// Usage: ros2_cdr_dump   (domain from ROS_DOMAIN_ID; loopback only)
#include <dds/dds.h>
#include <dds/ddsi/ddsi_serdata.h>

#include <cstdio>
#include <string>
#include <vector>

#include "ros2/convert.h"
#include "ros2/wire.h"
#include "ros_messages.h"
#include "tensoripc/error.h"

using namespace tensoripc;
using namespace tensoripc::ros2;

namespace {

// Writes one sample and takes it back as serialized data.
std::vector<unsigned char> serialize(const Participant& participant, const char* ros_topic,
                                     MessageType type, const void* sample) {
  const std::string topic_name = dds_topic_name(ros_topic);
  const dds_entity_t topic = check_dds(dds_create_topic(participant.handle(), descriptor(type),
                                                        topic_name.c_str(), nullptr, nullptr),
                                       "dds_create_topic");
  const QosPtr qos = make_qos(QosProfile::ros_default());
  const dds_entity_t reader = check_dds(
      dds_create_reader(participant.handle(), topic, qos.get(), nullptr), "dds_create_reader");
  const dds_entity_t writer = check_dds(
      dds_create_writer(participant.handle(), topic, qos.get(), nullptr), "dds_create_writer");
  check_dds(dds_write(writer, sample), "dds_write");
  struct ddsi_serdata* serdata = nullptr;
  dds_sample_info_t info;
  for (int tries = 0; tries < 500; ++tries) {
    const dds_return_t n = dds_takecdr(reader, &serdata, 1, &info, DDS_ANY_STATE);
    if (n > 0) break;
    dds_sleepfor(DDS_MSECS(10));
  }
  if (serdata == nullptr) throw Error("no sample came back on " + topic_name);
  std::vector<unsigned char> bytes(ddsi_serdata_size(serdata));
  ddsi_serdata_to_ser(serdata, 0, bytes.size(), bytes.data());
  ddsi_serdata_unref(serdata);
  dds_delete(writer);
  dds_delete(reader);
  dds_delete(topic);
  return bytes;
}

std::string hex(const std::vector<unsigned char>& bytes) {
  std::string out;
  char buf[3];
  for (unsigned char b : bytes) {
    std::snprintf(buf, sizeof buf, "%02x", b);
    out += buf;
  }
  return out;
}

}  // namespace

int main() {
  try {
    Participant participant(ParticipantOptions{std::nullopt, /*localhost_only=*/true, false});

    // The same values as golden_test.js: odd sizes, so that alignment and
    // padding are exercised (a 3-char frame_id, a 5-char encoding, 2x3 rgb8).
    sensor_msgs_msg_dds__Image_ image{};
    image.header.stamp.sec = 1700000000;
    image.header.stamp.nanosec = 123456789;
    image.header.frame_id = const_cast<char*>("cam");
    unsigned char pixels[2 * 3 * 3];
    for (unsigned i = 0; i < sizeof pixels; ++i) pixels[i] = static_cast<unsigned char>(i * 7 + 1);
    const ImageGeometry g = image_geometry({2, 3, 3}, DType::kUInt8, "rgb8");
    image.height = g.height;
    image.width = g.width;
    image.encoding = const_cast<char*>("rgb8");
    image.is_bigendian = g.is_bigendian;
    image.step = g.step;
    image.data._length = image.data._maximum = sizeof pixels;
    image.data._buffer = pixels;
    image.data._release = false;

    std_msgs_msg_dds__Float32MultiArray_ array{};
    const auto dims = multi_array_layout({2, 3}, {"rows", "cols"});
    std_msgs_msg_dds__MultiArrayDimension_ dds_dims[2];
    for (size_t i = 0; i < dims.size(); ++i) {
      dds_dims[i].label = const_cast<char*>(dims[i].label.c_str());
      dds_dims[i].size = dims[i].size;
      dds_dims[i].stride = dims[i].stride;
    }
    array.layout.dim._length = array.layout.dim._maximum = 2;
    array.layout.dim._buffer = dds_dims;
    array.layout.dim._release = false;
    array.layout.data_offset = 0;
    float values[6] = {0.5f, -1.25f, 3.0f, 1e-3f, -0.0f, 65504.0f};
    array.data._length = array.data._maximum = 6;
    array.data._buffer = values;
    array.data._release = false;

    const auto image_cdr = serialize(participant, "/golden/image", MessageType::kImage, &image);
    const auto array_cdr =
        serialize(participant, "/golden/array", MessageType::kFloat32MultiArray, &array);
    std::printf("{\"image\": \"%s\", \"float32_multi_array\": \"%s\"}\n", hex(image_cdr).c_str(),
                hex(array_cdr).c_str());
    return 0;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "ros2_cdr_dump: %s\n", e.what());
    return 1;
  }
}
