#pragma once
// The seed's ROSTensorProducer and ROSTensorConsumer in C++: a pool that is
// also a ROS 2 topic. The producer writes each frame into its pool and
// publishes it as a ROS message; the consumer subscribes to the topic and
// writes each message into its own pool, where local consumers read it.
//
// Seed argument -> C++:
//   pool_metadata    PoolMetadata (the pool's name, shape, dtype, history)
//   node             Participant (ros2/wire.h): honours ROS_DOMAIN_ID and
//                    ROS_LOCALHOST_ONLY / ROS_AUTOMATIC_DISCOVERY_RANGE
//   ros_topic        the ROS name ("/camera/image_raw")
//   ros_msg_type     MessageType (sensor_msgs/Image or a std_msgs MultiArray)
//   qos              RosTensorOptions::qos (an int N in the seed: reliable, depth N)
//   keep_last        RosTensorOptions::keep_last (the DDS history depth)
//   put(encoding=)   RosTensorOptions::encoding

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "ros2/wire.h"
#include "tensoripc/consumer.h"
#include "tensoripc/producer.h"

namespace tensoripc::ros2 {

struct RosTensorOptions {
  // The seed's `qos`: reliability and queue depth (ROS's default profile:
  // reliable, 10; QosProfile::sensor_data() for best-effort, 5).
  QosProfile qos = QosProfile::ros_default();
  // The seed's `keep_last`: frames kept in the DDS history. In ROS 2 this is
  // the QoS depth itself, so a nonzero value replaces qos.depth; 0 keeps it.
  uint32_t keep_last = 0;
  // sensor_msgs/Image only: the encoding; "" picks default_image_encoding()
  // for the pool's shape and dtype (rgb8 for [h, w, 3] uint8, ...).
  std::string encoding;
  // header.frame_id of published images.
  std::string frame_id;
  // MultiArray only: the dimension labels of published layouts ("" -> dim0, ...).
  std::vector<std::string> labels;
};

// Publishes tensors of one shape and dtype on a ROS 2 topic: the DDS half of
// RosTensorProducer, on its own for frames that are in a pool already (the
// tensor-ipc-ros2 bridge). Owns its DDS topic and writer; the Participant
// must outlive it. Not thread-safe: one thread writes.
class TopicWriter {
 public:
  // Throws InvalidArgumentError when frames of this shape and dtype cannot be
  // sent as `type` (a float32 frame as rgb8, int16 as Float32MultiArray, ...).
  TopicWriter(const Participant& participant, const std::string& ros_topic, MessageType type,
              const Shape& shape, DType dtype, RosTensorOptions options = {});
  ~TopicWriter();
  TopicWriter(const TopicWriter&) = delete;
  TopicWriter& operator=(const TopicWriter&) = delete;

  // Publishes one frame (host memory, the constructor's shape and dtype),
  // serialized straight from `frame`; Images are stamped with timestamp_ns
  // (CLOCK_REALTIME). Throws InvalidArgumentError for another shape or dtype,
  // Error when DDS refuses the sample, StateError after cleanup().
  void write(const TensorView& frame, int64_t timestamp_ns);
  // Readers matched to the writer now (ROS subscriptions, bridges).
  uint32_t matched_subscriptions() const;
  const std::string& dds_topic() const { return dds_topic_; }
  // The Image encoding used ("" for MultiArrays).
  const std::string& encoding() const { return options_.encoding; }
  // Deletes the writer and topic; idempotent.
  void cleanup();

 private:
  MessageType type_;
  Shape shape_;
  DType dtype_;
  RosTensorOptions options_;
  std::string dds_topic_;
  dds_entity_t topic_ = 0;
  dds_entity_t writer_ = 0;
};

// Publishes a pool's frames on a ROS 2 topic as well. put() writes the pool
// and then the DDS sample (serialized straight from the caller's frame).
// Owns its pool Producer and a TopicWriter; the Participant must outlive it.
// Not thread-safe: one thread puts, as with Producer.
class RosTensorProducer {
 public:
  // Throws InvalidArgumentError when the pool's shape or dtype cannot be sent
  // as `type` (e.g. a float32 pool as rgb8, an int16 pool as Float32MultiArray),
  // and what Producer's constructor throws.
  RosTensorProducer(PoolMetadata metadata, const Participant& participant,
                    const std::string& ros_topic, MessageType type, RosTensorOptions options = {},
                    ProducerOptions pool_options = {});
  ~RosTensorProducer();
  RosTensorProducer(const RosTensorProducer&) = delete;
  RosTensorProducer& operator=(const RosTensorProducer&) = delete;

  // Writes the frame into the pool, then publishes it (stamped with the
  // frame's timestamp). Host frames only. Throws what Producer::put throws,
  // or Error when DDS refuses the sample.
  PutResult put(const TensorView& frame);

  const PoolMetadata& metadata() const { return producer_.metadata(); }
  const std::string& dds_topic() const { return writer_.dds_topic(); }
  uint32_t matched_subscriptions() const { return writer_.matched_subscriptions(); }
  // Deletes the writer and topic and releases the pool; idempotent.
  void cleanup();

 private:
  TopicWriter writer_;  // first: it checks that the pool fits the type
  Producer producer_;
};

// What a RosTensorConsumer has done with the messages it received.
struct RosConsumerStatus {
  uint64_t received = 0;   // samples taken from DDS
  uint64_t written = 0;    // of those, written into the pool
  uint64_t rejected = 0;   // of those, not the pool's shape/dtype, or unreadable
  std::string last_error;  // why the last rejected one was
};

// Subscribes to a ROS 2 topic and writes every message into a pool, so local
// Consumers (and get()) read it as any pool. A thread of its own takes the
// samples; messages whose shape or dtype differ from the pool's are counted
// and dropped (status()). Owns a pool Producer, a Consumer of the same pool
// for get(), the DDS topic and reader; the Participant must outlive it.
// get() and status() may be called from any one thread.
class RosTensorConsumer {
 public:
  RosTensorConsumer(PoolMetadata metadata, const Participant& participant,
                    const std::string& ros_topic, MessageType type, RosTensorOptions options = {},
                    ConsumerOptions consumer_options = {}, ProducerOptions pool_options = {});
  ~RosTensorConsumer();
  RosTensorConsumer(const RosTensorConsumer&) = delete;
  RosTensorConsumer& operator=(const RosTensorConsumer&) = delete;

  // As Consumer::get (the seed's get(history_len, latest_first)).
  std::optional<Tensor> get(size_t count = 1, bool latest_first = true);
  bool wait_for_frame(std::chrono::nanoseconds timeout);
  RosConsumerStatus status() const;
  // The status of the Consumer behind get(): connected tells that its frame
  // events flow (on_new_data is called from then on).
  ConsumerStatus pool_status() const;
  const std::string& dds_topic() const { return dds_topic_; }
  // Writers matched to the reader now.
  uint32_t matched_publications() const;
  // Stops the thread, deletes the reader and topic, releases the pool; idempotent.
  void cleanup();

 private:
  void run();
  void write_sample(const void* sample);

  Producer producer_;  // written only by thread_
  Consumer consumer_;
  MessageType type_;
  std::string dds_topic_;
  dds_entity_t topic_ = 0;
  dds_entity_t reader_ = 0;
  dds_entity_t read_condition_ = 0;
  dds_entity_t guard_ = 0;  // triggered by cleanup() to stop thread_
  dds_entity_t waitset_ = 0;
  std::atomic<uint64_t> received_{0};
  std::atomic<uint64_t> written_{0};
  std::atomic<uint64_t> rejected_{0};
  mutable std::mutex error_mutex_;  // guards last_error_
  std::string last_error_;
  std::thread thread_;
};

}  // namespace tensoripc::ros2
