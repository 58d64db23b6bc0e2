// The daemon's own life: start-up (socket mode, health, reflection, a socket
// already served, a socket directory others can write to), SIGTERM with each
// retention policy, and a restart that adopts what the previous daemon left.
#include <google/protobuf/descriptor.pb.h>
#include <google/protobuf/unknown_field_set.h>
#include <grpcpp/generic/generic_stub.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <chrono>
#include <filesystem>
#include <iostream>

#include "common/descriptor_channel.h"
#include "common/shm.h"
#include "grpc/health/v1/health.grpc.pb.h"
#include "pool/layout.h"
#include "tests/daemon/broker_client.h"
#include "tests/support/broker_stub.h"
#include "tests/support/process.h"

namespace tensoripc::testing {
namespace {

using google::protobuf::UnknownFieldSet;

bool exited_cleanly(int wait_status) {
  return WIFEXITED(wait_status) && WEXITSTATUS(wait_status) == 0;
}

bool exists(const std::string& path) {
  struct stat st {};
  return ::lstat(path.c_str(), &st) == 0;
}

// One request on grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo,
// sent as raw protobuf bytes, as grpcurl would; returns the response's fields.
std::unique_ptr<UnknownFieldSet> reflect(const std::shared_ptr<grpc::Channel>& channel, int field,
                                         const std::string& value) {
  std::string request;
  request.push_back(static_cast<char>(field << 3 | 2));
  request.push_back(static_cast<char>(value.size()));
  request += value;

  grpc::GenericStub stub(channel);
  grpc::CompletionQueue cq;
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
  auto call =
      stub.PrepareCall(&ctx, "/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo", &cq);
  void* tag = nullptr;
  bool ok = false;
  auto step = [&] { return cq.Next(&tag, &ok) && ok; };
  call->StartCall(nullptr);
  bool good = step();
  grpc::Slice slice(request);
  grpc::ByteBuffer out(&slice, 1);
  grpc::ByteBuffer in;
  if (good) {
    call->Write(out, nullptr);
    good = step();
  }
  if (good) {
    call->Read(&in, nullptr);
    good = step();
  }
  call->WritesDone(nullptr);
  step();
  grpc::Status status;
  call->Finish(&status, nullptr);
  step();
  cq.Shutdown();
  while (cq.Next(&tag, &ok)) {
  }
  if (!good) return nullptr;
  std::vector<grpc::Slice> slices;
  if (!in.Dump(&slices).ok()) return nullptr;
  std::string bytes;
  for (const auto& s : slices) bytes.append(reinterpret_cast<const char*>(s.begin()), s.size());
  auto fields = std::make_unique<UnknownFieldSet>();
  if (!fields->ParseFromString(bytes)) return nullptr;
  return fields;
}

// The length-delimited values of `field` in `set`.
std::vector<std::string> strings_of(const UnknownFieldSet& set, int field) {
  std::vector<std::string> out;
  for (int i = 0; i < set.field_count(); ++i) {
    if (set.field(i).number() == field &&
        set.field(i).type() == google::protobuf::UnknownField::TYPE_LENGTH_DELIMITED) {
      out.push_back(set.field(i).length_delimited());
    }
  }
  return out;
}

TEST(DaemonLifecycle, HealthServingAndReflectionDescribesTheServices) {
  DaemonProcess daemon;
  auto health = grpc::health::v1::Health::NewStub(broker_channel(daemon));
  for (const char* service : {"", "tensoripc.v1.Broker"}) {
    grpc::ClientContext ctx;
    grpc::health::v1::HealthCheckRequest req;
    req.set_service(service);
    grpc::health::v1::HealthCheckResponse resp;
    ASSERT_TRUE(health->Check(&ctx, req, &resp).ok()) << service;
    EXPECT_EQ(resp.status(), grpc::health::v1::HealthCheckResponse::SERVING) << service;
  }

  // list_services (field 7) -> list_services_response (6) { service (1) { name (1) } }
  auto listed = reflect(broker_channel(daemon), 7, "");
  ASSERT_TRUE(listed);
  std::vector<std::string> names;
  for (const auto& lsr : strings_of(*listed, 6)) {
    UnknownFieldSet list;
    ASSERT_TRUE(list.ParseFromString(lsr));
    for (const auto& svc : strings_of(list, 1)) {
      UnknownFieldSet s;
      ASSERT_TRUE(s.ParseFromString(svc));
      for (const auto& n : strings_of(s, 1)) names.push_back(n);
    }
  }
  EXPECT_NE(std::find(names.begin(), names.end(), "tensoripc.v1.Broker"), names.end());
  EXPECT_NE(std::find(names.begin(), names.end(), "grpc.health.v1.Health"), names.end());

  // file_containing_symbol (4) -> file_descriptor_response (4) { file_descriptor_proto (1) }
  for (const std::string symbol : {"tensoripc.v1.Broker", "grpc.health.v1.Health"}) {
    auto described = reflect(broker_channel(daemon), 4, symbol);
    ASSERT_TRUE(described) << symbol;
    EXPECT_TRUE(strings_of(*described, 7).empty()) << symbol << " answered with an error";
    bool found = false;
    for (const auto& fdr : strings_of(*described, 4)) {
      UnknownFieldSet files;
      ASSERT_TRUE(files.ParseFromString(fdr));
      for (const auto& bytes : strings_of(files, 1)) {
        google::protobuf::FileDescriptorProto file;
        ASSERT_TRUE(file.ParseFromString(bytes));
        for (const auto& svc : file.service()) {
          found |= file.package() + "." + svc.name() == symbol;
        }
      }
    }
    EXPECT_TRUE(found) << symbol;
  }
}

TEST(DaemonLifecycle, SocketModeIsApplied) {
  {
    DaemonProcess daemon;
    struct stat st {};
    ASSERT_EQ(::stat(daemon.socket_path().c_str(), &st), 0);
    EXPECT_TRUE(S_ISSOCK(st.st_mode));
    EXPECT_EQ(st.st_mode & 0777, 0660u);
  }
  {
    DaemonProcess daemon({"--socket-mode", "0600"});
    struct stat st {};
    ASSERT_EQ(::stat(daemon.socket_path().c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 0777, 0600u);
  }
}

TEST(DaemonLifecycle, ASecondDaemonDoesNotStealTheSocket) {
  DaemonProcess first;
  ChildProcess second({daemon_binary(), "--socket", first.socket_path(), "--shm-prefix",
                       first.shm_prefix() + "two.", "--log-level", "off"});
  auto st = second.wait(std::chrono::seconds(20));
  ASSERT_TRUE(st);
  EXPECT_TRUE(WIFEXITED(*st) && WEXITSTATUS(*st) == 1);
  auto stub = broker_stub(first);
  grpc::ClientContext ctx;
  v1::ListPoolsResponse resp;
  EXPECT_TRUE(stub->ListPools(&ctx, v1::ListPoolsRequest(), &resp).ok());
  EXPECT_TRUE(exists(first.socket_path()));
}

TEST(DaemonLifecycle, ASocketDirectoryOthersCanWriteIsRefusedAtStart) {
  TempDir dir;
  const std::string open_dir = dir.path() + "/open";
  ASSERT_EQ(::mkdir(open_dir.c_str(), 0700), 0);
  ASSERT_EQ(::chmod(open_dir.c_str(), 0777), 0);
  const std::string socket = open_dir + "/x.sock";
  ChildProcess daemon({daemon_binary(), "--socket", socket, "--shm-prefix",
                       "tipct" + std::to_string(::getpid()) + "sockdir."},
                      {}, ChildProcess::Capture::kStdoutAndStderr);
  auto st = daemon.wait(std::chrono::seconds(20));
  ASSERT_TRUE(st);
  EXPECT_TRUE(WIFEXITED(*st) && WEXITSTATUS(*st) == 1) << *st;
  std::string output;
  bool said_why = false;
  while (auto line = daemon.read_line(std::chrono::seconds(5))) {
    output += *line + "\n";
    said_why =
        said_why || (line->find("unsafe socket directory " + open_dir) != std::string::npos &&
                     line->find("mode 0777") != std::string::npos);
  }
  EXPECT_TRUE(said_why) << output;
  EXPECT_FALSE(exists(socket));
}

TEST(DaemonLifecycle, BadFlagsExitWithCode2) {
  ChildProcess bad({daemon_binary(), "--shm-prefix", "../x"});
  auto st = bad.wait(std::chrono::seconds(10));
  ASSERT_TRUE(st);
  EXPECT_TRUE(WIFEXITED(*st) && WEXITSTATUS(*st) == 2);
}

TEST(DaemonLifecycle, SigtermWithRetentionRemoveLeavesNoSocketAndNoSegment) {
  DaemonProcess daemon({"--retention", "remove"});
  auto stub = broker_stub(daemon);
  TestProducer producer(*stub);
  ASSERT_TRUE(producer.claim(pool_metadata("cam")).ok());
  ASSERT_TRUE(producer.publish(1));
  TestSubscriber sub(*stub, "cam");
  ASSERT_TRUE(sub.next());
  TestSubscriber waiting(*stub, "nothing.yet");
  ASSERT_TRUE(waiting.next());
  ASSERT_EQ(daemon.segments().size(), 1u);

  EXPECT_TRUE(exited_cleanly(daemon.terminate()));
  EXPECT_FALSE(exists(daemon.socket_path()));
  EXPECT_FALSE(exists(daemon.socket_path() + ".fd"));
  EXPECT_FALSE(any_shm_file_with_prefix(daemon.shm_prefix()));
  auto end = sub.wait_end();
  ASSERT_TRUE(end);
  EXPECT_EQ(end->error_code(), grpc::StatusCode::UNAVAILABLE);
  end = waiting.wait_end();
  ASSERT_TRUE(end);
  EXPECT_EQ(end->error_code(), grpc::StatusCode::UNAVAILABLE);
  EXPECT_EQ(producer.wait_end().error_code(), grpc::StatusCode::UNAVAILABLE);
}

// Pool memory lives in the daemon and its clients, never under a name: a
// daemon that stops takes nothing with it but what no client holds, and the
// next daemon gets a pool back from the producer that holds it.
TEST(DaemonLifecycle, ARestartedDaemonTakesAPoolBackFromItsProducer) {
  DaemonProcess first;  // --retention keep is the default
  const std::string prefix = first.shm_prefix();
  auto stub = broker_stub(first);
  auto cam = std::make_unique<TestProducer>(*stub);
  ASSERT_TRUE(cam->claim(pool_metadata("cam", {8, 8}, "uint16", 3)).ok());
  const uint64_t generation = cam->granted().layout().generation();
  for (uint64_t s = 1; s <= 5; ++s) ASSERT_TRUE(cam->publish(s));
  TestProducer idle(*stub);
  ASSERT_TRUE(idle.claim(pool_metadata("idle")).ok());
  ASSERT_TRUE(idle.close().ok());
  EXPECT_EQ(first.segments(), (std::vector<std::string>{prefix + "cam", prefix + "idle"}));
  EXPECT_FALSE(any_shm_file_with_prefix(prefix)) << "a pool has a name in /dev/shm";
  const std::shared_ptr<PoolMapping> held = cam->mapping();
  ASSERT_TRUE(held);

  first.restart(/*kill=*/true);  // SIGKILL: nothing cleaned up, nothing handed over
  EXPECT_EQ(cam->wait_end().error_code(), grpc::StatusCode::UNAVAILABLE);
  cam.reset();
  stub = broker_stub(first);
  v1::PoolInfo info;
  EXPECT_EQ(get_pool(*stub, "cam", &info).error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_TRUE(first.segments().empty());

  TestSubscriber sub(*stub, "cam");
  auto ev = sub.next();
  ASSERT_TRUE(ev);
  ASSERT_EQ(kind(*ev), "waiting");

  // The producer hands its memory back and claims with the token.
  auto token = hand_over_descriptor(first.socket_path(), held->file(), "cam",
                                    std::chrono::seconds(5));
  ASSERT_TRUE(token.ok()) << token.status().message();
  TestProducer again(*stub);
  ASSERT_TRUE(again.claim(pool_metadata("cam", {8, 8}, "uint16", 3), ::getpid(), *token).ok());
  EXPECT_TRUE(again.granted().resumed());
  EXPECT_EQ(again.granted().latest_seq(), 5u);
  EXPECT_EQ(again.granted().layout().generation(), generation);
  ASSERT_TRUE(again.mapping());
  EXPECT_EQ(again.mapping()->identity(), held->identity()) << "not the memory handed back";
  EXPECT_EQ(first.segments(), std::vector<std::string>{prefix + "cam"});
  ev = sub.next();
  ASSERT_TRUE(ev);
  ASSERT_EQ(kind(*ev), "attached");
  EXPECT_EQ(ev->attached().latest_seq(), 5u);
  EXPECT_EQ(ev->attached().layout().generation(), generation);
  ASSERT_TRUE(again.publish(6));
  ev = sub.next();
  ASSERT_TRUE(ev);
  ASSERT_EQ(kind(*ev), "frame");
  EXPECT_EQ(ev->frame().seq(), 6u);

  // A token is single-use: the same hand-over cannot be claimed twice.
  TestProducer replay(*stub);
  ASSERT_TRUE(again.close().ok());
  ASSERT_TRUE(replay.claim(pool_metadata("cam", {8, 8}, "uint16", 3), ::getpid(), *token).ok());
  EXPECT_TRUE(replay.granted().resumed());  // the daemon's own pool, resumed: token ignored
  EXPECT_TRUE(exited_cleanly(first.terminate()));
}

// A subscriber whose process is frozen never reads its socket again, so the
// daemon's last writes to it can never complete; SIGTERM must still end the
// daemon promptly and cleanly.
TEST(DaemonLifecycle, SigtermEndsEvenWithAFrozenSubscriber) {
  DaemonProcess daemon({"--retention", "remove"});
  auto stub = broker_stub(daemon);
  TestProducer producer(*stub);
  ASSERT_TRUE(producer.claim(pool_metadata("cam")).ok());
  ChildProcess frozen({TIPC_BROKER_HELPER, daemon.socket_path(), "cam", "subscribe"});
  ASSERT_TRUE(frozen.wait_for_line("SUBSCRIBED", std::chrono::seconds(10)));
  frozen.signal(SIGSTOP);
  for (uint64_t s = 1; s <= 60000; ++s) ASSERT_TRUE(producer.publish(s));
  v1::PoolInfo info;
  ASSERT_TRUE(eventually([&] {
    return get_pool(*stub, "cam", &info).ok() && info.stats().frames_published() == 60000;
  }));
  EXPECT_GT(info.stats().dropped(), 0u);

  const auto t0 = std::chrono::steady_clock::now();
  EXPECT_TRUE(exited_cleanly(daemon.terminate()));
  const auto took = std::chrono::steady_clock::now() - t0;
  EXPECT_LT(took, std::chrono::seconds(8));
  std::cout << "stopped in " << std::chrono::duration_cast<std::chrono::milliseconds>(took).count()
            << " ms\n";
  EXPECT_FALSE(exists(daemon.socket_path()));
  EXPECT_TRUE(daemon.segments().empty());
  frozen.signal(SIGKILL);
}

}  // namespace
}  // namespace tensoripc::testing
