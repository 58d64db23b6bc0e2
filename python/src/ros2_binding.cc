// tensor_ipc._core.ros2: the DDS halves of the ROS 2 classes (ros2/), for
// tensor_ipc.ros (ROSTensorProducer, ROSTensorConsumer). Built only where
// the bridge is (Cyclone DDS found). The pool halves are the package's own
// TensorProducer and TensorConsumer, so every backend and the whole consumer
// API work as they do without ROS.
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <tuple>
#include <vector>

#include "bindings.h"
#include "convert.h"
#include "gil.h"
#include "lifecycle.h"
#include "metadata_convert.h"
#include "ros2/ros_tensor.h"
#include "tensoripc/error.h"

namespace tensoripc::python {
namespace {

ros2::MessageType message_type(const std::string& name) {
  if (auto t = ros2::parse_message_type(name)) return *t;
  throw InvalidArgumentError("unknown ROS message type '" + name +
                             "': sensor_msgs/msg/Image or a std_msgs/msg/*MultiArray");
}

ros2::RosTensorOptions ros_options(int32_t qos_depth, bool best_effort, uint32_t keep_last,
                                   std::string encoding, std::string frame_id) {
  ros2::RosTensorOptions o;
  o.qos.depth = qos_depth;
  o.qos.reliability = best_effort ? ros2::Reliability::kBestEffort : ros2::Reliability::kReliable;
  o.keep_last = keep_last;
  o.encoding = std::move(encoding);
  o.frame_id = std::move(frame_id);
  return o;
}

// The metadata as the package's _core_args gives it: name, shape, dtype_str,
// backend_type, history_len, device, payload_json.
using CoreMetadataArgs = std::tuple<std::string, std::vector<int64_t>, std::string, std::string,
                                    int64_t, std::string, std::string>;

// The participant a Python object holds; writers and readers keep it alive.
using ParticipantPtr = std::shared_ptr<ros2::Participant>;

class PyTopicWriter {
 public:
  PyTopicWriter(ParticipantPtr participant, const std::string& topic, const std::string& type,
                std::vector<int64_t> shape, const std::string& dtype_str, int32_t qos_depth,
                bool best_effort, uint32_t keep_last, std::string encoding, std::string frame_id)
      : participant_(std::move(participant)) {
    const auto dtype = parse_dtype(dtype_str);
    if (!dtype) throw InvalidArgumentError("unknown dtype '" + dtype_str + "'");
    writer_ = std::make_unique<ros2::TopicWriter>(
        *participant_, topic, message_type(type), Shape(shape), *dtype,
        ros_options(qos_depth, best_effort, keep_last, std::move(encoding), std::move(frame_id)));
  }

  void write(py::handle array, int64_t timestamp_ns) {
    py::object keep;
    const TensorView view = view_of_numpy(array, &keep, writer_->dds_topic());
    without_gil([&] { checked().write(view, timestamp_ns); });
  }

  uint32_t matched() { return checked().matched_subscriptions(); }
  std::string encoding() { return checked().encoding(); }
  std::string dds_topic() { return checked().dds_topic(); }
  void cleanup() {
    if (writer_) writer_->cleanup();
  }

 private:
  ros2::TopicWriter& checked() {
    if (!writer_) throw StateError("the ROS writer was cleaned up");
    return *writer_;
  }
  ParticipantPtr participant_;  // outlives writer_ (declared first)
  std::unique_ptr<ros2::TopicWriter> writer_;
};

class PyTopicToPool {
 public:
  PyTopicToPool(ParticipantPtr participant, const MetadataArgs& args, const std::string& topic,
                const std::string& type, int32_t qos_depth, bool best_effort, uint32_t keep_last,
                std::string socket_path, double connect_timeout_s)
      : participant_(std::move(participant)) {
    PoolMetadata md = to_metadata(args);
    const auto timeout = std::chrono::milliseconds(static_cast<int64_t>(connect_timeout_s * 1000));
    ConsumerOptions consumer;
    consumer.socket_path = socket_path;
    consumer.connect_timeout = timeout;
    ProducerOptions producer;
    producer.socket_path = socket_path;
    producer.connect_timeout = timeout;
    bridge_ = without_gil([&] {
      BlockSignals quiet;  // the bridge's threads must never take Ctrl-C
      return std::make_unique<ros2::RosTensorConsumer>(
          std::move(md), *participant_, topic, message_type(type),
          ros_options(qos_depth, best_effort, keep_last, "", ""), consumer, producer);
    });
  }

  py::dict status() {
    const ros2::RosConsumerStatus s = checked().status();
    py::dict d;
    d["received"] = s.received;
    d["written"] = s.written;
    d["rejected"] = s.rejected;
    d["last_error"] = s.last_error;
    return d;
  }
  uint32_t matched() { return checked().matched_publications(); }
  std::string dds_topic() { return checked().dds_topic(); }
  void cleanup() {
    if (bridge_) without_gil([&] { bridge_->cleanup(); });
  }

 private:
  ros2::RosTensorConsumer& checked() {
    if (!bridge_) throw StateError("the ROS consumer was cleaned up");
    return *bridge_;
  }
  ParticipantPtr participant_;  // outlives bridge_ (declared first)
  std::unique_ptr<ros2::RosTensorConsumer> bridge_;
};

}  // namespace

void register_ros2(py::module_& parent) {
  py::module_ m = parent.def_submodule("ros2", "DDS halves of tensor_ipc.ros (Cyclone DDS).");
  py::class_<ros2::Participant, ParticipantPtr>(m, "Participant")
      .def(py::init([](std::optional<uint32_t> domain_id, std::optional<bool> localhost_only,
                       bool large_samples) {
             ros2::ParticipantOptions o;
             o.domain_id = domain_id;
             o.localhost_only = localhost_only;
             o.large_samples = large_samples;
             return without_gil([&] {
               BlockSignals quiet;  // Cyclone's threads, started here, must never take Ctrl-C
               return std::make_shared<ros2::Participant>(o);
             });
           }),
           py::arg("domain_id") = py::none(), py::arg("localhost_only") = py::none(),
           py::arg("large_samples") = false)
      .def_property_readonly("domain_id", &ros2::Participant::domain_id)
      .def_property_readonly("localhost_only", &ros2::Participant::localhost_only);

  py::class_<PyTopicWriter>(m, "TopicWriter")
      .def(py::init<ParticipantPtr, const std::string&, const std::string&, std::vector<int64_t>,
                    const std::string&, int32_t, bool, uint32_t, std::string, std::string>(),
           py::arg("participant"), py::arg("topic"), py::arg("msg_type"), py::arg("shape"),
           py::arg("dtype_str"), py::arg("qos_depth"), py::arg("best_effort"),
           py::arg("keep_last"), py::arg("encoding"), py::arg("frame_id"))
      .def("write", &PyTopicWriter::write, py::arg("array"), py::arg("timestamp_ns"))
      .def_property_readonly("matched_subscriptions", &PyTopicWriter::matched)
      .def_property_readonly("encoding", &PyTopicWriter::encoding)
      .def_property_readonly("dds_topic", &PyTopicWriter::dds_topic)
      .def("cleanup", &PyTopicWriter::cleanup);

  py::class_<PyTopicToPool>(m, "TopicToPool")
      .def(py::init([](ParticipantPtr participant, const CoreMetadataArgs& md,
                       const std::string& topic, const std::string& type, int32_t qos_depth,
                       bool best_effort, uint32_t keep_last, std::string socket_path,
                       double connect_timeout) {
             MetadataArgs args{std::get<0>(md), std::get<1>(md), std::get<2>(md),
                               std::get<3>(md), std::get<4>(md), std::get<5>(md),
                               std::get<6>(md)};
             return std::make_unique<PyTopicToPool>(std::move(participant), args, topic, type,
                                                    qos_depth, best_effort, keep_last,
                                                    std::move(socket_path), connect_timeout);
           }),
           py::arg("participant"), py::arg("metadata"), py::arg("topic"), py::arg("msg_type"),
           py::arg("qos_depth"), py::arg("best_effort"), py::arg("keep_last"),
           py::arg("socket_path"), py::arg("connect_timeout"))
      .def("status", &PyTopicToPool::status)
      .def_property_readonly("matched_publications", &PyTopicToPool::matched)
      .def_property_readonly("dds_topic", &PyTopicToPool::dds_topic)
      .def("cleanup", &PyTopicToPool::cleanup);
}

}  // namespace tensoripc::python
