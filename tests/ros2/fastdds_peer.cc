// A second DDS vendor for the bridge's tests: a ROS 2 node's DDS side as
// rmw_fastrtps_cpp (Humble) builds it, on Debian's Fast DDS 2.9 (issue 13).
// It shares nothing with the bridge: its sensor_msgs/Image type support is
// written here on Fast CDR, field by field in common_interfaces' order, as
// rmw_fastrtps's is generated from the .msg files; it matches by type name.
//
//   fastdds_peer receive --topic rt/T [--timeout-s S]
//     subscribes; checks every Image (header fields, the test pattern of
//     tests/client/frame_pattern.h), prints "FRAME seq" for each intact one
//     ("TORN ...", "BAD ..." for others) and, on SIGTERM or after S seconds,
//     "RECEIVED intact=I torn=T bad=B first_seq=F last_seq=L missing=[...]"
//     (missing: the seqs between F and L that never came), and exits 0.
//   fastdds_peer send --topic rt/T --frames N --height H --width W
//       [--period-ms P] [--go-file F]
//     publishes N rgb8 Images carrying the test pattern (seq 1..N) once a
//     reader matched (and file F exists), waits for them to be acknowledged,
//     prints "SENT N" (exits 1 if they were not, within the timeout).
//
//   fastdds_peer check-profile
//     loads FASTRTPS_DEFAULT_PROFILES_FILE as a ROS process does and prints
//     "PROFILE udp rcvbuf=R sndbuf=S builtin=B" for its default participant.
//
// --large-frames: one UDPv4 transport with 4 MiB socket buffers in place of
// the built-in transports, as ros2/fastdds-large-frames.xml.
// Both print "MATCHED" when the other side matched. ROS_DOMAIN_ID and
// ROS_LOCALHOST_ONLY / ROS_AUTOMATIC_DISCOVERY_RANGE are honoured as rmw does:
// localhost only means one UDPv4 transport on 127.0.0.1, no built-in
// transports (so no shared-memory transport), and localhost as initial peer.
#include <fastcdr/Cdr.h>
#include <fastcdr/FastBuffer.h>
#include <fastcdr/exceptions/Exception.h>
#include <fastdds/dds/domain/DomainParticipant.hpp>
#include <fastdds/dds/domain/DomainParticipantFactory.hpp>
#include <fastdds/dds/domain/qos/DomainParticipantQos.hpp>
#include <fastdds/dds/publisher/DataWriter.hpp>
#include <fastdds/dds/publisher/DataWriterListener.hpp>
#include <fastdds/dds/publisher/Publisher.hpp>
#include <fastdds/dds/publisher/qos/DataWriterQos.hpp>
#include <fastdds/dds/subscriber/DataReader.hpp>
#include <fastdds/dds/subscriber/DataReaderListener.hpp>
#include <fastdds/dds/subscriber/SampleInfo.hpp>
#include <fastdds/dds/subscriber/Subscriber.hpp>
#include <fastdds/dds/subscriber/qos/DataReaderQos.hpp>
#include <fastdds/dds/topic/Topic.hpp>
#include <fastdds/dds/topic/TopicDataType.hpp>
#include <fastdds/dds/topic/TypeSupport.hpp>
#include <fastdds/rtps/transport/UDPv4TransportDescriptor.h>

#include <unistd.h>

#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "tests/client/frame_pattern.h"

// Under ASan (the CI's second suite): Debian's Fast DDS 2.9 deletes its
// StatisticsReaderImpl through a base of another size when a DataReader is
// deleted (new-delete-type-mismatch inside libfastrtps, not in this file). The
// peer is a test party, not project code: that one check is off for it alone.
extern "C" const char* __asan_default_options() { return "new_delete_type_mismatch=0"; }

namespace {

namespace fdds = eprosima::fastdds::dds;
namespace rtps = eprosima::fastrtps::rtps;
using eprosima::fastcdr::Cdr;
using eprosima::fastcdr::FastBuffer;

// sensor_msgs/msg/Image, with std_msgs/Header and builtin_interfaces/Time
// flattened in their order.
struct Image {
  int32_t stamp_sec = 0;
  uint32_t stamp_nanosec = 0;
  std::string frame_id;
  uint32_t height = 0;
  uint32_t width = 0;
  std::string encoding;
  uint8_t is_bigendian = 0;
  uint32_t step = 0;
  std::vector<uint8_t> data;
};

// The type support, as rmw_fastrtps's: plain CDR with its encapsulation
// header, no key, the dds_ type name.
class ImageType : public fdds::TopicDataType {
 public:
  ImageType() {
    setName("sensor_msgs::msg::dds_::Image_");
    m_typeSize = 4 + 256;  // a start: the payload pool grows to the sample
    m_isGetKeyDefined = false;
  }

  bool serialize(void* data, rtps::SerializedPayload_t* payload) override {
    const auto* m = static_cast<const Image*>(data);
    FastBuffer buffer(reinterpret_cast<char*>(payload->data), payload->max_size);
    Cdr ser(buffer, Cdr::DEFAULT_ENDIAN, Cdr::DDS_CDR);
    payload->encapsulation = ser.endianness() == Cdr::BIG_ENDIANNESS ? CDR_BE : CDR_LE;
    try {
      ser.serialize_encapsulation();
      ser << m->stamp_sec << m->stamp_nanosec << m->frame_id << m->height << m->width
          << m->encoding << m->is_bigendian << m->step << m->data;
    } catch (const eprosima::fastcdr::exception::Exception&) {
      return false;
    }
    payload->length = static_cast<uint32_t>(ser.getSerializedDataLength());
    return true;
  }

  bool deserialize(rtps::SerializedPayload_t* payload, void* data) override {
    auto* m = static_cast<Image*>(data);
    FastBuffer buffer(reinterpret_cast<char*>(payload->data), payload->length);
    Cdr deser(buffer, Cdr::DEFAULT_ENDIAN, Cdr::DDS_CDR);
    try {
      deser.read_encapsulation();
      deser >> m->stamp_sec >> m->stamp_nanosec >> m->frame_id >> m->height >> m->width >>
          m->encoding >> m->is_bigendian >> m->step >> m->data;
    } catch (const eprosima::fastcdr::exception::Exception&) {
      return false;
    }
    return true;
  }

  std::function<uint32_t()> getSerializedSizeProvider(void* data) override {
    const auto* m = static_cast<const Image*>(data);
    // An upper bound: the encapsulation, each field with its worst padding.
    const size_t size = 4 + 8 + (4 + m->frame_id.size() + 1 + 3) + 8 +
                        (4 + m->encoding.size() + 1 + 3) + 1 + 3 + 4 + 4 + m->data.size();
    return [size] { return static_cast<uint32_t>(size); };
  }

  void* createData() override { return new Image(); }
  void deleteData(void* data) override { delete static_cast<Image*>(data); }
  bool getKey(void*, rtps::InstanceHandle_t*, bool) override { return false; }
};

bool env_is(const char* name, const char* value) {
  const char* v = std::getenv(name);
  return v != nullptr && std::strcmp(v, value) == 0;
}

constexpr uint32_t kLargeFramesBuffer = 4 * 1024 * 1024;

// The participant QoS starts from the factory's default, as rmw_fastrtps's
// does: a profile marked default in FASTRTPS_DEFAULT_PROFILES_FILE applies.
fdds::DomainParticipant* make_participant(bool large_frames) {
  const char* domain_env = std::getenv("ROS_DOMAIN_ID");
  const int domain = domain_env != nullptr ? std::atoi(domain_env) : 0;
  auto* factory = fdds::DomainParticipantFactory::get_instance();
  factory->load_profiles();
  fdds::DomainParticipantQos qos = factory->get_default_participant_qos();
  qos.name("tensor_ipc_fastdds_peer");
  const std::string enclave = "enclave=/;";
  qos.user_data().data_vec(std::vector<rtps::octet>(enclave.begin(), enclave.end()));
  const bool localhost_only = env_is("ROS_LOCALHOST_ONLY", "1") ||
                              env_is("ROS_AUTOMATIC_DISCOVERY_RANGE", "LOCALHOST");
  if (localhost_only || large_frames) {
    // One UDPv4 transport in place of the built-in ones (UDPv4 and shared
    // memory), as rmw_fastrtps does for localhost only and as
    // ros2/fastdds-large-frames.xml does.
    auto udp = std::make_shared<eprosima::fastdds::rtps::UDPv4TransportDescriptor>();
    if (localhost_only) udp->interfaceWhiteList.emplace_back("127.0.0.1");
    // What ros2/fastdds-large-frames.xml sets, for a node receiving
    // camera-sized frames: the default socket buffer (rmem_default, 208 KiB
    // here) overflows on the first fragments of a 921,600 B image.
    if (large_frames) {
      udp->receiveBufferSize = kLargeFramesBuffer;
      udp->sendBufferSize = kLargeFramesBuffer;
    }
    qos.transport().user_transports.push_back(udp);
    qos.transport().use_builtin_transports = false;
  }
  if (localhost_only) {
    rtps::Locator_t localhost;
    rtps::IPLocator::setIPv4(localhost, 127, 0, 0, 1);
    qos.wire_protocol().builtin.initialPeersList.push_back(localhost);
  }
  return factory->create_participant(domain, qos);
}

// Loads a profiles file as a ROS process would (FASTRTPS_DEFAULT_PROFILES_FILE)
// and prints what its default participant gets: the file must parse, name one
// UDPv4 transport with 4 MiB socket buffers and replace the built-in ones.
int check_profile() {
  auto* factory = fdds::DomainParticipantFactory::get_instance();
  if (factory->load_profiles() != ReturnCode_t::RETCODE_OK) {
    std::printf("PROFILE_ERROR load_profiles failed\n");
    return 1;
  }
  const fdds::DomainParticipantQos& qos = factory->get_default_participant_qos();
  const auto& transports = qos.transport().user_transports;
  if (transports.size() != 1) {
    std::printf("PROFILE_ERROR %zu user transports\n", transports.size());
    return 1;
  }
  auto udp = std::dynamic_pointer_cast<eprosima::fastdds::rtps::UDPv4TransportDescriptor>(
      transports.front());
  if (!udp) {
    std::printf("PROFILE_ERROR the user transport is not UDPv4\n");
    return 1;
  }
  std::printf("PROFILE udp rcvbuf=%u sndbuf=%u builtin=%d\n", udp->receiveBufferSize,
              udp->sendBufferSize, qos.transport().use_builtin_transports ? 1 : 0);
  return 0;
}

// Counts matches; prints MATCHED on the first.
struct MatchCounter {
  std::atomic<int> matched{0};
  void on_change(int current_count) {
    if (current_count > 0 && matched.exchange(current_count) == 0) {
      std::printf("MATCHED\n");
      std::fflush(stdout);
    }
  }
};

struct WriterListener : fdds::DataWriterListener {
  MatchCounter counter;
  void on_publication_matched(fdds::DataWriter*, const fdds::PublicationMatchedStatus& s) override {
    counter.on_change(s.current_count);
  }
};

struct ReaderListener : fdds::DataReaderListener {
  MatchCounter counter;
  void on_sample_lost(fdds::DataReader*, const fdds::SampleLostStatus& s) override {
    std::printf("LOST total=%d\n", s.total_count);
    std::fflush(stdout);
  }
  void on_sample_rejected(fdds::DataReader*, const fdds::SampleRejectedStatus& s) override {
    std::printf("REJECTED total=%d reason=%d\n", s.total_count, static_cast<int>(s.last_reason));
    std::fflush(stdout);
  }
  void on_requested_incompatible_qos(fdds::DataReader*,
                                     const fdds::RequestedIncompatibleQosStatus& s) override {
    std::printf("INCOMPATIBLE_QOS policy=%d\n", static_cast<int>(s.last_policy_id));
    std::fflush(stdout);
  }
  void on_subscription_matched(fdds::DataReader*,
                               const fdds::SubscriptionMatchedStatus& s) override {
    counter.on_change(s.current_count);
  }
};

std::atomic<bool> g_stop{false};

struct Args {
  std::string mode, topic, go_file;
  int frames = 10, timeout_s = 60, period_ms = 30;
  uint32_t height = 480, width = 640;
  bool large_frames = false;
};

// ROS's default profile (reliable, volatile, keep_last 10) as rmw_fastrtps
// applies it to readers and writers alike, with its memory policy and no data
// sharing.
template <typename EndpointQos>
EndpointQos ros_default_qos(EndpointQos qos) {
  qos.reliability().kind = fdds::RELIABLE_RELIABILITY_QOS;
  qos.durability().kind = fdds::VOLATILE_DURABILITY_QOS;
  qos.history().kind = fdds::KEEP_LAST_HISTORY_QOS;
  qos.history().depth = 10;
  qos.endpoint().history_memory_policy = rtps::PREALLOCATED_WITH_REALLOC_MEMORY_MODE;
  qos.data_sharing().off();
  return qos;
}

int receive(fdds::DomainParticipant* participant, fdds::Topic* topic, const Args& args) {
  fdds::Subscriber* subscriber = participant->create_subscriber(fdds::SUBSCRIBER_QOS_DEFAULT);
  const fdds::DataReaderQos qos = ros_default_qos(fdds::DATAREADER_QOS_DEFAULT);
  ReaderListener listener;
  fdds::DataReader* reader =
      subscriber->create_datareader(topic, qos, &listener, fdds::StatusMask::all());
  if (reader == nullptr) {
    std::fprintf(stderr, "fastdds_peer: create_datareader failed\n");
    return 1;
  }
  int intact = 0, torn = 0, bad = 0;
  uint64_t first_seq = 0, last_seq = 0;
  std::string missing;  // seqs skipped over after the first frame
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(args.timeout_s);
  Image image;
  fdds::SampleInfo info;
  while (!g_stop.load() && std::chrono::steady_clock::now() < deadline) {
    if (!reader->wait_for_unread_message(eprosima::fastrtps::Duration_t(0, 100'000'000))) {
      continue;
    }
    while (reader->take_next_sample(&image, &info) == ReturnCode_t::RETCODE_OK) {
      if (!info.valid_data) continue;
      const bool header_ok = image.encoding == "rgb8" && image.is_bigendian == 0 &&
                             image.step == image.width * 3 &&
                             image.data.size() == size_t{image.height} * image.step &&
                             image.data.size() >= 16 && image.data.size() % 8 == 0;
      if (!header_ok) {
        ++bad;
        std::printf("BAD %ux%u %s step %u, %zu bytes\n", image.height, image.width,
                    image.encoding.c_str(), image.step, image.data.size());
        std::fflush(stdout);
        continue;
      }
      uint64_t seq = 0;
      const auto check = tensoripc::testing::check_test_frame(image.data.data(),
                                                              image.data.size(), &seq);
      if (check != tensoripc::testing::FrameCheck::kIntact || seq <= last_seq) {
        ++torn;
        std::printf("TORN after %llu\n", static_cast<unsigned long long>(last_seq));
        std::fflush(stdout);
        continue;
      }
      if (first_seq == 0) first_seq = seq;
      for (uint64_t s = last_seq + 1; last_seq != 0 && s < seq; ++s) {
        missing += " " + std::to_string(s);
      }
      ++intact;
      last_seq = seq;
      std::printf("FRAME %llu\n", static_cast<unsigned long long>(seq));
      std::fflush(stdout);
    }
  }
  std::printf("RECEIVED intact=%d torn=%d bad=%d first_seq=%llu last_seq=%llu missing=[%s ]\n",
              intact, torn, bad, static_cast<unsigned long long>(first_seq),
              static_cast<unsigned long long>(last_seq), missing.c_str());
  std::fflush(stdout);
  subscriber->delete_datareader(reader);
  participant->delete_subscriber(subscriber);
  return 0;
}

int send(fdds::DomainParticipant* participant, fdds::Topic* topic, const Args& args) {
  fdds::Publisher* publisher = participant->create_publisher(fdds::PUBLISHER_QOS_DEFAULT);
  fdds::DataWriterQos qos = ros_default_qos(fdds::DATAWRITER_QOS_DEFAULT);
  qos.publish_mode().kind = fdds::ASYNCHRONOUS_PUBLISH_MODE;  // rmw_fastrtps's (Humble)
  WriterListener listener;
  fdds::DataWriter* writer =
      publisher->create_datawriter(topic, qos, &listener, fdds::StatusMask::publication_matched());
  if (writer == nullptr) {
    std::fprintf(stderr, "fastdds_peer: create_datawriter failed\n");
    return 1;
  }
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(args.timeout_s);
  while (listener.counter.matched.load() == 0 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  if (listener.counter.matched.load() == 0) {
    std::fprintf(stderr, "fastdds_peer: no reader matched in %d s\n", args.timeout_s);
    return 1;
  }
  // The writer knowing the reader is half of a match: the test says when the
  // reader knows the writer too, by making this file.
  while (!args.go_file.empty() && ::access(args.go_file.c_str(), F_OK) != 0 &&
         std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  Image image;
  image.frame_id = "fastdds_peer";
  image.height = args.height;
  image.width = args.width;
  image.encoding = "rgb8";
  image.step = args.width * 3;
  image.data.resize(size_t{args.height} * image.step);
  for (int seq = 1; seq <= args.frames; ++seq) {
    const auto now = std::chrono::system_clock::now().time_since_epoch();
    image.stamp_sec = static_cast<int32_t>(std::chrono::duration_cast<std::chrono::seconds>(now).count());
    image.stamp_nanosec = static_cast<uint32_t>(
        std::chrono::duration_cast<std::chrono::nanoseconds>(now).count() % 1'000'000'000);
    tensoripc::testing::fill_test_frame(image.data.data(), image.data.size(),
                                        static_cast<uint64_t>(seq));
    if (!writer->write(&image)) {  // Fast DDS 2.9: write(void*) returns bool
      std::fprintf(stderr, "fastdds_peer: write of frame %d failed\n", seq);
      return 1;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(args.period_ms));
  }
  if (writer->wait_for_acknowledgments(eprosima::fastrtps::Duration_t(args.timeout_s, 0)) !=
      ReturnCode_t::RETCODE_OK) {
    std::fprintf(stderr, "fastdds_peer: the readers did not acknowledge all %d frames in %d s\n",
                 args.frames, args.timeout_s);
    return 1;
  }
  std::printf("SENT %d\n", args.frames);
  std::fflush(stdout);
  publisher->delete_datawriter(writer);
  participant->delete_publisher(publisher);
  return 0;
}

int usage() {
  std::fprintf(stderr,
               "usage: fastdds_peer receive|send --topic rt/NAME [--large-frames] [--timeout-s S]\n"
               "       [--frames N --height H --width W --period-ms P --go-file F]\n"
               "       fastdds_peer check-profile   (FASTRTPS_DEFAULT_PROFILES_FILE)\n");
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) return usage();
  Args args;
  args.mode = argv[1];
  if (args.mode == "check-profile") return check_profile();
  for (int i = 2; i < argc; ++i) {
    const std::string flag = argv[i];
    if (flag == "--large-frames") {
      args.large_frames = true;
      continue;
    }
    if (i + 1 == argc) return usage();
    const char* value = argv[++i];
    if (flag == "--topic") args.topic = value;
    else if (flag == "--go-file") args.go_file = value;
    else if (flag == "--frames") args.frames = std::atoi(value);
    else if (flag == "--timeout-s") args.timeout_s = std::atoi(value);
    else if (flag == "--period-ms") args.period_ms = std::atoi(value);
    else if (flag == "--height") args.height = static_cast<uint32_t>(std::atoi(value));
    else if (flag == "--width") args.width = static_cast<uint32_t>(std::atoi(value));
    else return usage();
  }
  if (args.topic.empty() || (args.mode != "receive" && args.mode != "send")) return usage();

  std::signal(SIGTERM, [](int) { g_stop.store(true); });
  std::signal(SIGINT, [](int) { g_stop.store(true); });
  fdds::DomainParticipant* participant = make_participant(args.large_frames);
  if (participant == nullptr) {
    std::fprintf(stderr, "fastdds_peer: create_participant failed\n");
    return 1;
  }
  fdds::TypeSupport type(new ImageType());
  type.register_type(participant);
  fdds::Topic* topic = participant->create_topic(args.topic, type.get_type_name(),
                                                fdds::TOPIC_QOS_DEFAULT);
  const int rc = args.mode == "receive" ? receive(participant, topic, args)
                                        : send(participant, topic, args);
  participant->delete_topic(topic);
  fdds::DomainParticipantFactory::get_instance()->delete_participant(participant);
  return rc;
}
