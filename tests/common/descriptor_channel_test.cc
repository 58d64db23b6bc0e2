// The descriptor channel: its small text protocol, good and malformed, and
// real exchanges of a memfd over SCM_RIGHTS on a SOCK_SEQPACKET socket in a
// temporary directory, with a thread standing in for the daemon's side.
#include "common/descriptor_channel.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <functional>
#include <string>
#include <thread>
#include <vector>

#include "common/shm.h"
#include "common/unix_socket.h"
#include "tests/support/child_process.h"

namespace tensoripc {
namespace {

using std::chrono::milliseconds;

const std::string kToken = "0123456789abcdef0123456789abcdef";

std::string request(const std::string& verb, const std::string& argument) {
  return "TIPCFD1 " + verb + " " + argument;
}

// How many of this process's descriptors refer to a memfd labelled `label`.
int open_fds_of(const std::string& label) {
  int n = 0;
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator("/proc/self/fd", ec)) {
    std::error_code link_ec;
    const std::string target = std::filesystem::read_symlink(entry.path(), link_ec).string();
    if (!link_ec && target.rfind("/memfd:" + label + " ", 0) == 0) ++n;
  }
  return n;
}

std::string unique_label(const char* tag) {
  return "tipc-fdchan-" + std::to_string(::getpid()) + "-" + tag;
}

// Sends `text` with every descriptor in `fds` attached to one message.
bool send_with_fds(int sock, const std::string& text, const std::vector<int>& fds) {
  iovec iov{const_cast<char*>(text.data()), text.size()};
  msghdr msg{};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  std::vector<char> control(CMSG_SPACE(sizeof(int) * fds.size()));
  msg.msg_control = control.data();
  msg.msg_controllen = control.size();
  cmsghdr* c = CMSG_FIRSTHDR(&msg);
  c->cmsg_level = SOL_SOCKET;
  c->cmsg_type = SCM_RIGHTS;
  c->cmsg_len = CMSG_LEN(sizeof(int) * fds.size());
  std::memcpy(CMSG_DATA(c), fds.data(), sizeof(int) * fds.size());
  return ::sendmsg(sock, &msg, MSG_NOSIGNAL) == static_cast<ssize_t>(text.size());
}

// ---- the protocol

TEST(DescriptorProtocol, RequestsRoundTrip) {
  const DescriptorRequest get{DescriptorRequest::Verb::kGet, kToken};
  EXPECT_EQ(format_descriptor_request(get), request("GET", kToken));
  auto back = parse_descriptor_request(format_descriptor_request(get));
  ASSERT_TRUE(back.ok()) << back.status().message();
  EXPECT_EQ(back->verb, DescriptorRequest::Verb::kGet);
  EXPECT_EQ(back->argument, kToken);

  const DescriptorRequest give{DescriptorRequest::Verb::kGive, "tensoripc.cam"};
  EXPECT_EQ(format_descriptor_request(give), request("GIVE", "tensoripc.cam"));
  back = parse_descriptor_request(format_descriptor_request(give));
  ASSERT_TRUE(back.ok()) << back.status().message();
  EXPECT_EQ(back->verb, DescriptorRequest::Verb::kGive);
  EXPECT_EQ(back->argument, "tensoripc.cam");
}

TEST(DescriptorProtocol, MalformedRequestsAreRefusedSayingWhy) {
  const std::vector<std::string> bad = {
      "",
      "TIPCFD1",
      "TIPCFD1 ",
      "TIPCFD2 GET " + kToken,                             // another protocol version
      "tipcfd1 GET " + kToken,                             // magic is case-sensitive
      "GET " + kToken,                                     // no magic at all
      request("PUT", kToken),                              // unknown verb
      request("get", kToken),                              // verbs are upper case
      "TIPCFD1 GET",                                       // no argument
      request("GET", ""),                                  // empty token
      request("GET", kToken.substr(1)),                    // 31 digits
      request("GET", kToken + "0"),                        // 33 digits
      request("GET", std::string(4096, 'a')),              // oversize
      request("GET", "0123456789ABCDEF0123456789ABCDEF"),  // upper-case hex
      request("GET", "0123456789abcdeg0123456789abcdef"),  // not hex
      request("GET", "../../../../../../etc/passwd....."),
      request("GET", kToken + "\n"),
      request("GET", kToken.substr(0, 31) + std::string(1, '\0')),
      request("GIVE", ""),
      request("GIVE", std::string(201, 'l')),  // oversize label
      request("GIVE", "two words"),
      request("GIVE", "tab\there"),
      request("GIVE", "new\nline"),
  };
  for (const std::string& text : bad) {
    auto r = parse_descriptor_request(text);
    ASSERT_FALSE(r.ok()) << "accepted \"" << text.substr(0, 60) << "\"";
    EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument) << r.status().message();
    EXPECT_FALSE(r.status().message().empty());
    EXPECT_LT(r.status().message().size(), 200u) << "an oversize request is not echoed";
  }
  // The longest label that is accepted.
  EXPECT_TRUE(parse_descriptor_request(request("GIVE", std::string(200, 'l'))).ok());
}

TEST(DescriptorProtocol, AnswersRoundTrip) {
  auto ok = parse_descriptor_answer(descriptor_ok(kDescriptorKindMemfd));
  ASSERT_TRUE(ok.ok());
  EXPECT_EQ(*ok, kDescriptorKindMemfd);
  auto token = parse_descriptor_answer(descriptor_ok(kToken));
  ASSERT_TRUE(token.ok());
  EXPECT_EQ(*token, kToken);

  for (const Status& refusal :
       {Status(StatusCode::kNotFound, "no such token (used already, or expired)"),
        Status(StatusCode::kPermissionDenied, "this token was issued to pid 12"),
        Status(StatusCode::kInvalidArgument, "malformed token")}) {
    auto back = parse_descriptor_answer(descriptor_error(refusal));
    ASSERT_FALSE(back.ok());
    EXPECT_EQ(back.status().code(), refusal.code());
    EXPECT_EQ(back.status().message(), refusal.message());
  }
}

TEST(DescriptorProtocol, MalformedAnswersAreUnavailable) {
  for (const std::string& text :
       {std::string(""), std::string("OK"), std::string("HELLO"), std::string("ok memfd"),
        std::string("ERR"), std::string("ERR 5"), std::string("ERR x message"),
        std::string("ERR 0 not an error"), std::string("ERR 17 out of range"),
        std::string("ERR -3 negative"), std::string("ERR 5message"), std::string(5000, 'E')}) {
    auto r = parse_descriptor_answer(text);
    ASSERT_FALSE(r.ok()) << text.substr(0, 40);
    EXPECT_EQ(r.status().code(), StatusCode::kUnavailable) << text.substr(0, 40);
    EXPECT_LT(r.status().message().size(), 200u) << "a long answer is not echoed whole";
  }
}

TEST(DescriptorProtocol, TokensAre32LowercaseHexDigits) {
  EXPECT_TRUE(is_descriptor_token(kToken));
  EXPECT_TRUE(is_descriptor_token(std::string(kDescriptorTokenLength, 'f')));
  EXPECT_FALSE(is_descriptor_token(""));
  EXPECT_FALSE(is_descriptor_token(kToken.substr(1)));
  EXPECT_FALSE(is_descriptor_token(kToken + "a"));
  EXPECT_FALSE(is_descriptor_token(std::string(32, 'F')));
  EXPECT_FALSE(is_descriptor_token(std::string(32, 'g')));
  EXPECT_FALSE(is_descriptor_token(std::string(32, ' ')));
}

TEST(DescriptorProtocol, TheChannelSitsBesideTheGrpcSocket) {
  EXPECT_EQ(descriptor_socket_path("/run/tensor-ipc/tensor-ipcd.sock"),
            "/run/tensor-ipc/tensor-ipcd.sock.fd");
}

// ---- packets on a socket pair

class Packets : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_EQ(::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, ends_), 0);
  }
  void TearDown() override {
    ::close(ends_[0]);
    ::close(ends_[1]);
  }
  int ends_[2] = {-1, -1};
};

TEST_F(Packets, OneMessageCarriesItsTextAndOneDescriptor) {
  const std::string label = unique_label("one");
  auto file = ShmFile::create_sealed(label, 4096);
  ASSERT_TRUE(file.ok()) << file.status().message();
  ASSERT_TRUE(send_packet(ends_[0], "OK memfd", file->fd()).ok());
  auto packet = receive_packet(ends_[1], kMaxDescriptorMessage);
  ASSERT_TRUE(packet.ok()) << packet.status().message();
  EXPECT_EQ(packet->text, "OK memfd");
  ASSERT_GE(packet->fd, 0);
  EXPECT_EQ(open_fds_of(label), 2);
  EXPECT_EQ(::fcntl(packet->fd, F_GETFD) & FD_CLOEXEC, FD_CLOEXEC) << "received close-on-exec";
  EXPECT_EQ(*ShmFile::adopt_fd(packet->release_fd(), "got").identity(), *file->identity());
  EXPECT_EQ(open_fds_of(label), 1);

  // Without a descriptor.
  ASSERT_TRUE(send_packet(ends_[0], "TIPCFD1 GET " + kToken).ok());
  packet = receive_packet(ends_[1], kMaxDescriptorMessage);
  ASSERT_TRUE(packet.ok());
  EXPECT_EQ(packet->fd, -1);
  EXPECT_EQ(packet->text, "TIPCFD1 GET " + kToken);
}

TEST_F(Packets, TwoDescriptorsInOneMessageAreRefusedAndBothClosed) {
  const std::string label = unique_label("two");
  auto file = ShmFile::create_sealed(label, 4096);
  ASSERT_TRUE(file.ok()) << file.status().message();
  {
    ShmFile a = ShmFile::adopt_fd(::dup(file->fd()), "a");
    ShmFile b = ShmFile::adopt_fd(::dup(file->fd()), "b");
    ASSERT_TRUE(send_with_fds(ends_[0], "TIPCFD1 GIVE x", {a.fd(), b.fd()}));
  }
  ASSERT_EQ(open_fds_of(label), 1) << "only the original here; two in flight";
  auto packet = receive_packet(ends_[1], kMaxDescriptorMessage);
  ASSERT_FALSE(packet.ok());
  EXPECT_EQ(packet.status().code(), StatusCode::kInvalidArgument) << packet.status().message();
  EXPECT_EQ(open_fds_of(label), 1) << "both received descriptors must be closed";
}

TEST_F(Packets, AnOversizeMessageIsRefusedAndItsDescriptorClosed) {
  const std::string label = unique_label("big");
  auto file = ShmFile::create_sealed(label, 4096);
  ASSERT_TRUE(file.ok()) << file.status().message();
  ASSERT_TRUE(send_packet(ends_[0], std::string(kMaxDescriptorMessage + 1, 'x'), file->fd()).ok());
  auto packet = receive_packet(ends_[1], kMaxDescriptorMessage);
  ASSERT_FALSE(packet.ok());
  EXPECT_EQ(packet.status().code(), StatusCode::kInvalidArgument) << packet.status().message();
  EXPECT_EQ(open_fds_of(label), 1);

  // Exactly the limit is fine.
  ASSERT_TRUE(send_packet(ends_[0], std::string(kMaxDescriptorMessage, 'x')).ok());
  packet = receive_packet(ends_[1], kMaxDescriptorMessage);
  ASSERT_TRUE(packet.ok()) << packet.status().message();
  EXPECT_EQ(packet->text.size(), kMaxDescriptorMessage);
}

TEST_F(Packets, AClosedPeerIsUnavailable) {
  ::close(ends_[0]);
  ends_[0] = -1;
  auto packet = receive_packet(ends_[1], kMaxDescriptorMessage);
  ASSERT_FALSE(packet.ok());
  EXPECT_EQ(packet.status().code(), StatusCode::kUnavailable);
}

// ---- a real channel: a listener in a temporary directory, served by a thread

class DescriptorChannel : public ::testing::Test {
 protected:
  void SetUp() override {
    grpc_path_ = dir_.path() + "/tensor-ipcd.sock";
    auto listener = listen_unix(descriptor_socket_path(grpc_path_), SOCK_SEQPACKET, 0600);
    ASSERT_TRUE(listener.ok()) << listener.status().message();
    listener_ = *listener;
  }
  void TearDown() override {
    if (server_.joinable()) server_.join();
    if (listener_ >= 0) ::close(listener_);
  }

  // Accepts one connection, records its credentials and request, and lets
  // `answer` reply on it.
  void serve_once(std::function<void(int conn, const DescriptorRequest&, int fd)> answer) {
    server_ = std::thread([this, answer = std::move(answer)] {
      const int conn = ::accept4(listener_, nullptr, nullptr, SOCK_CLOEXEC);
      if (conn < 0) return;
      set_socket_timeouts(conn, milliseconds(5000));
      if (auto creds = peer_credentials(conn); creds.ok()) peer_ = *creds;
      auto packet = receive_packet(conn, kMaxDescriptorMessage);
      if (packet.ok()) {
        auto req = parse_descriptor_request(packet->text);
        if (req.ok()) {
          request_ = *req;
          answer(conn, *req, packet->fd);
        } else {
          send_packet(conn, descriptor_error(req.status()));
        }
      }
      ::close(conn);
    });
  }

  testing::TempDir dir_;
  std::string grpc_path_;
  int listener_ = -1;
  std::thread server_;
  PeerCredentials peer_;
  DescriptorRequest request_;
};

TEST_F(DescriptorChannel, TheListenerIsASocketOfTheModeAsked) {
  struct stat st {};
  ASSERT_EQ(::stat(descriptor_socket_path(grpc_path_).c_str(), &st), 0);
  EXPECT_TRUE(S_ISSOCK(st.st_mode));
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  // Listening again replaces a stale socket; anything else is left alone.
  ::close(listener_);
  auto again = listen_unix(descriptor_socket_path(grpc_path_), SOCK_SEQPACKET, 0660);
  ASSERT_TRUE(again.ok()) << again.status().message();
  listener_ = *again;
  ASSERT_EQ(::stat(descriptor_socket_path(grpc_path_).c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0660u);
  const std::string plain = dir_.path() + "/not-a-socket";
  std::fclose(std::fopen(plain.c_str(), "w"));
  auto refused = listen_unix(plain, SOCK_SEQPACKET, 0600);
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_TRUE(std::filesystem::is_regular_file(plain));
}

TEST_F(DescriptorChannel, FetchTradesATokenForTheSameMemory) {
  auto memory = ShmFile::create_sealed(unique_label("get"), 8192);
  ASSERT_TRUE(memory.ok()) << memory.status().message();
  serve_once([&](int conn, const DescriptorRequest& req, int) {
    if (req.verb == DescriptorRequest::Verb::kGet && req.argument == kToken) {
      send_packet(conn, descriptor_ok(kDescriptorKindMemfd), memory->fd());
    } else {
      send_packet(conn, descriptor_error(not_found("no such token")));
    }
  });
  auto got = fetch_descriptor(grpc_path_, kToken, milliseconds(5000));
  server_.join();  // it uses this test's locals
  ASSERT_TRUE(got.ok()) << got.status().message();
  EXPECT_EQ(*got->identity(), *memory->identity());
  EXPECT_TRUE(got->sealed_against_resize());
  EXPECT_EQ(*got->size(), 8192u);
  EXPECT_EQ(request_.verb, DescriptorRequest::Verb::kGet);
  EXPECT_EQ(request_.argument, kToken);
  // The kernel's word on who asked: this process.
  EXPECT_EQ(peer_.pid, ::getpid());
  EXPECT_EQ(peer_.uid, ::geteuid());
  EXPECT_EQ(peer_.gid, ::getegid());
  EXPECT_TRUE(peer_.in_group(::getegid()));
}

TEST_F(DescriptorChannel, ARefusalKeepsTheDaemonsCodeAndMessage) {
  serve_once([](int conn, const DescriptorRequest&, int) {
    send_packet(conn, descriptor_error(Status(StatusCode::kNotFound, "no such token")));
  });
  auto got = fetch_descriptor(grpc_path_, kToken, milliseconds(5000));
  ASSERT_FALSE(got.ok());
  EXPECT_EQ(got.status().code(), StatusCode::kNotFound);
  EXPECT_EQ(got.status().message(), "no such token");
}

TEST_F(DescriptorChannel, AnOkWithoutADescriptorIsUnavailable) {
  serve_once([](int conn, const DescriptorRequest&, int) {
    send_packet(conn, descriptor_ok(kDescriptorKindMemfd));
  });
  auto got = fetch_descriptor(grpc_path_, kToken, milliseconds(5000));
  ASSERT_FALSE(got.ok());
  EXPECT_EQ(got.status().code(), StatusCode::kUnavailable) << got.status().message();
}

TEST_F(DescriptorChannel, AnotherKindOfDescriptorIsRefusedAndClosed) {
  const std::string label = unique_label("kind");
  auto memory = ShmFile::create_sealed(label, 4096);
  ASSERT_TRUE(memory.ok());
  serve_once([&](int conn, const DescriptorRequest&, int) {
    send_packet(conn, descriptor_ok("cuda-vmm"), memory->fd());
  });
  auto got = fetch_descriptor(grpc_path_, kToken, milliseconds(5000));
  server_.join();  // it uses this test's locals
  ASSERT_FALSE(got.ok());
  EXPECT_EQ(got.status().code(), StatusCode::kUnavailable) << got.status().message();
  EXPECT_EQ(open_fds_of(label), 1) << "the descriptor that came with it is closed";
}

TEST_F(DescriptorChannel, HandOverSendsTheMemoryAndReturnsTheToken) {
  const std::string label = unique_label("give");
  auto memory = ShmFile::create_sealed(label, 4096);
  ASSERT_TRUE(memory.ok());
  FileIdentity received{};
  serve_once([&](int conn, const DescriptorRequest& req, int fd) {
    if (req.verb != DescriptorRequest::Verb::kGive || fd < 0) {
      send_packet(conn, descriptor_error(invalid_argument("GIVE needs a descriptor")));
      return;
    }
    // The packet still owns fd: identify it, do not close it here.
    if (auto id = ShmFile::adopt_fd(::dup(fd), "handed").identity(); id.ok()) received = *id;
    send_packet(conn, descriptor_ok(kToken));
  });
  auto token = hand_over_descriptor(grpc_path_, *memory, "tensoripc.cam", milliseconds(5000));
  server_.join();  // it uses this test's locals
  ASSERT_TRUE(token.ok()) << token.status().message();
  EXPECT_EQ(*token, kToken);
  EXPECT_EQ(request_.verb, DescriptorRequest::Verb::kGive);
  EXPECT_EQ(request_.argument, "tensoripc.cam");
  EXPECT_EQ(received, *memory->identity());
  EXPECT_EQ(open_fds_of(label), 1) << "the daemon's copies are gone; the producer keeps its own";
}

TEST_F(DescriptorChannel, AServerThatNeverAcceptsTimesOut) {
  // The connection waits in the backlog: connect and send succeed, the
  // answer never comes.
  const auto start = std::chrono::steady_clock::now();
  auto got = fetch_descriptor(grpc_path_, kToken, milliseconds(200));
  const auto took = std::chrono::steady_clock::now() - start;
  ASSERT_FALSE(got.ok());
  EXPECT_TRUE(got.status().code() == StatusCode::kDeadlineExceeded ||
              got.status().code() == StatusCode::kUnavailable)
      << got.status().message();
  EXPECT_LT(took, std::chrono::seconds(3)) << "a silent daemon must not hang its clients";
}

TEST_F(DescriptorChannel, AServerThatNeverAnswersTimesOut) {
  std::atomic<bool> done{false};
  serve_once([&](int, const DescriptorRequest&, int) {
    // Holds the connection open without a word until the client gave up.
    const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (!done.load() && std::chrono::steady_clock::now() < until) {
      std::this_thread::sleep_for(milliseconds(5));
    }
  });
  const auto start = std::chrono::steady_clock::now();
  auto got = fetch_descriptor(grpc_path_, kToken, milliseconds(200));
  const auto took = std::chrono::steady_clock::now() - start;
  done = true;
  server_.join();  // before `done` goes out of scope
  ASSERT_FALSE(got.ok());
  EXPECT_TRUE(got.status().code() == StatusCode::kDeadlineExceeded ||
              got.status().code() == StatusCode::kUnavailable)
      << got.status().message();
  EXPECT_GE(took, milliseconds(150));
  EXPECT_LT(took, std::chrono::seconds(3)) << "a silent daemon must not hang its clients";
}

TEST_F(DescriptorChannel, NoDaemonIsUnavailableNamingThePath) {
  const std::string elsewhere = dir_.path() + "/nobody.sock";
  auto got = fetch_descriptor(elsewhere, kToken, milliseconds(200));
  ASSERT_FALSE(got.ok());
  EXPECT_EQ(got.status().code(), StatusCode::kUnavailable);
  EXPECT_NE(got.status().message().find(descriptor_socket_path(elsewhere)), std::string::npos)
      << got.status().message();
}

}  // namespace
}  // namespace tensoripc
