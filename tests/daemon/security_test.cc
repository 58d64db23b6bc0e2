// Trust boundaries, tried as a hostile or buggy local process would: the
// rows of docs/security.md's table, each against the real tensor-ipcd.
// Another user is `nobody`, reached with setpriv when the tests run as root
// (skipped with a message otherwise).
#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <limits>

#include "common/descriptor_channel.h"
#include "common/unix_socket.h"
#include "pool/layout.h"
#include "pool/ring.h"
#include "proto/wire.h"
#include "tests/daemon/broker_client.h"
#include "tests/support/broker_stub.h"
#include "tests/support/process.h"

namespace tensoripc::testing {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

// setpriv execs the command itself (runuser forks it, and a test's SIGKILL
// would reach only runuser).
constexpr char kSetpriv[] = "/usr/bin/setpriv";

// A daemon that another user may reach: its directory searchable, its
// sockets 0666 (what the tensor-ipc group gets with the system service).
std::unique_ptr<DaemonProcess> shared_daemon(std::vector<std::string> extra = {}) {
  extra.insert(extra.begin(), {"--socket-mode", "0666"});
  auto d = std::make_unique<DaemonProcess>(extra);
  const std::string dir = d->socket_path().substr(0, d->socket_path().rfind('/'));
  ::chmod(dir.c_str(), 0755);
  return d;
}

// tipc_broker_helper run as `nobody`.
std::unique_ptr<ChildProcess> as_other_user(const DaemonProcess& d, const std::string& pool,
                                            const std::string& mode) {
  return std::make_unique<ChildProcess>(std::vector<std::string>{
      kSetpriv, "--reuid=nobody", "--regid=nogroup", "--clear-groups", "--", TIPC_BROKER_HELPER, d.socket_path(), pool, mode});
}

// Why this process cannot run tipc_broker_helper as `nobody`, or "" when it
// can: it must be root, have setpriv, and the helper must be reachable by
// `nobody` (a checkout under /root is not).
std::string cannot_act_as_nobody() {
  if (::geteuid() != 0) return "needs root, to act as another user";
  if (::access(kSetpriv, X_OK) != 0) return std::string("needs ") + kSetpriv;
  ChildProcess probe({kSetpriv, "--reuid=nobody", "--regid=nogroup", "--clear-groups", "--",
                      "/usr/bin/test", "-x", TIPC_BROKER_HELPER});
  const auto st = probe.wait(seconds(10));
  if (!st || !WIFEXITED(*st) || WEXITSTATUS(*st) != 0) {
    return std::string("user nobody cannot reach ") + TIPC_BROKER_HELPER;
  }
  return "";
}

#define SKIP_UNLESS_ROOT()                                        \
  if (const std::string why = cannot_act_as_nobody(); !why.empty()) \
  GTEST_SKIP() << why

// Row: `truncate -s 0` of a pool killed the producer, every consumer and the
// daemon with SIGBUS. No name exists to truncate, and the descriptors handed
// out are sealed: not even the producer can resize its pool.
TEST(DaemonSecurity, NoOneCanTruncateOrResizeAPool) {
  DaemonProcess daemon;
  auto stub = broker_stub(daemon);
  TestProducer producer(*stub);
  ASSERT_TRUE(producer.claim(pool_metadata("cam", {4096})).ok());
  ASSERT_TRUE(producer.publish(1));
  EXPECT_FALSE(any_shm_file_with_prefix(daemon.shm_prefix())) << "a pool has a name to truncate";
  const int fd = producer.mapping()->file().fd();
  struct stat st {};
  ASSERT_EQ(::fstat(fd, &st), 0);
  EXPECT_NE(::ftruncate(fd, 0), 0);
  EXPECT_EQ(errno, EPERM);
  EXPECT_NE(::ftruncate(fd, st.st_size * 2), 0);
  EXPECT_EQ(errno, EPERM);
  EXPECT_NE(::fallocate(fd, 0, 0, st.st_size * 2), 0);
  EXPECT_NE(::fcntl(fd, F_ADD_SEALS, F_SEAL_WRITE), 0) << "the seals themselves are sealed";
  // The daemon and the pool are fine.
  v1::PoolInfo info;
  ASSERT_TRUE(get_pool(*stub, "cam", &info).ok());
  EXPECT_EQ(info.stats().latest_seq(), 1u);
  ASSERT_TRUE(producer.publish(2));
  EXPECT_TRUE(daemon.process().running());
}

// Row: a consumer mprotect-ed its read-only mapping writable and wrote frames
// behind the seqlock. A consumer's descriptor is read-only: no writable
// mapping can be made of it, and another user cannot reopen it writable.
TEST(DaemonSecurity, AConsumerCannotWriteThePool) {
  DaemonProcess daemon;
  auto stub = broker_stub(daemon);
  TestProducer producer(*stub);
  ASSERT_TRUE(producer.claim(pool_metadata("cam", {4096})).ok());
  TestSubscriber sub(*stub, "cam");
  auto ev = sub.next();
  ASSERT_TRUE(ev && ev->has_attached());
  const std::string& token = ev->attached().descriptor_token();
  ASSERT_TRUE(is_descriptor_token(token));
  auto memory = fetch_descriptor(daemon.socket_path(), token, seconds(5));
  ASSERT_TRUE(memory.ok()) << memory.status().message();
  EXPECT_FALSE(memory->writable());
  auto size = memory->size();
  ASSERT_TRUE(size.ok());
  EXPECT_EQ(::mmap(nullptr, *size, PROT_READ | PROT_WRITE, MAP_SHARED, memory->fd(), 0),
            MAP_FAILED);
  void* ro = ::mmap(nullptr, *size, PROT_READ, MAP_SHARED, memory->fd(), 0);
  ASSERT_NE(ro, MAP_FAILED);
  EXPECT_NE(::mprotect(ro, *size, PROT_READ | PROT_WRITE), 0);
  EXPECT_EQ(errno, EACCES);
  ::munmap(ro, *size);
  // Single use: the token is spent.
  auto again = fetch_descriptor(daemon.socket_path(), token, seconds(5));
  EXPECT_EQ(again.status().code(), StatusCode::kNotFound);

  if (::geteuid() == 0) {
    // Another user holding the read-only descriptor cannot reopen it
    // read-write through /proc (the memory is 0600, the daemon's user's).
    const pid_t child = ::fork();
    if (child == 0) {
      if (::setgid(65534) != 0 || ::setuid(65534) != 0) ::_exit(2);
      ::prctl(PR_SET_DUMPABLE, 1);  // so /proc/self is ours: only the file's mode decides
      const std::string path = "/proc/self/fd/" + std::to_string(memory->fd());
      char target[256];
      if (::readlink(path.c_str(), target, sizeof target) <= 0) ::_exit(3);  // the control
      const int fd = ::open(path.c_str(), O_RDWR);
      ::_exit(fd < 0 && errno == EACCES ? 0 : 1);
    }
    int status = 0;
    ASSERT_EQ(::waitpid(child, &status, 0), child);
    ASSERT_TRUE(WIFEXITED(status)) << status;
    EXPECT_NE(WEXITSTATUS(status), 1) << "another user reopened a consumer's descriptor writable";
    EXPECT_EQ(WEXITSTATUS(status), 0) << "(3: the control, reading the link, failed)";
  }
}

// Row: a client claimed with pid 1 and was believed. The daemon takes the
// pid from the socket; what a request says is ignored.
TEST(DaemonSecurity, AForgedPidIsNotBelieved) {
  DaemonProcess daemon;
  auto stub = broker_stub(daemon);
  TestProducer liar(*stub);
  ASSERT_TRUE(liar.claim(pool_metadata("cam"), /*pid=*/1).ok());
  EXPECT_EQ(liar.granted().producer_pid(), ::getpid());
  v1::PoolInfo info;
  ASSERT_TRUE(get_pool(*stub, "cam", &info).ok());
  EXPECT_EQ(info.stats().producer_pid(), ::getpid());
  EXPECT_EQ(info.metadata().creator_pid(), ::getpid());
  TestProducer second(*stub);
  const grpc::Status st = second.claim(pool_metadata("cam"), /*pid=*/1);
  EXPECT_EQ(st.error_code(), grpc::StatusCode::ALREADY_EXISTS);
  EXPECT_NE(st.error_message().find("pid " + std::to_string(::getpid())), std::string::npos)
      << st.error_message();
  EXPECT_EQ(wire::from_grpc(st).holder_pid(), ::getpid());
}

// Row: any client could DeletePool(force) or replace another user's pool.
// Only the owner, root and the admin group may.
TEST(DaemonSecurity, AnotherUserCannotDeleteResumeOrReplaceAPool) {
  SKIP_UNLESS_ROOT();
  auto daemon = shared_daemon();
  auto stub = broker_stub(*daemon);
  // Created by `nobody`, who then leaves: the pool is kept, and it is nobody's.
  {
    auto owner = as_other_user(*daemon, "theirs", "1");
    ASSERT_TRUE(owner->wait_for_line("PUBLISHED", seconds(10))) << "the helper did not run as nobody";
    owner->signal(SIGKILL);
    owner->wait(seconds(10));
  }
  v1::PoolInfo info;
  ASSERT_TRUE(eventually([&] {
    return get_pool(*stub, "theirs", &info).ok() && info.stats().producer_pid() == 0;
  }));
  EXPECT_EQ(info.stats().owner_uid(), 65534u);

  // Root may resume it ...
  {
    TestProducer root(*stub);
    EXPECT_TRUE(root.claim(pool_metadata("theirs")).ok());
  }
  // ... and a pool root creates is root's: nobody may not delete, resume or
  // replace it.
  TestProducer mine(*stub);
  ASSERT_TRUE(mine.claim(pool_metadata("mine")).ok());
  ASSERT_TRUE(mine.close().ok());
  auto del = as_other_user(*daemon, "mine", "delete");
  auto line = del->wait_for_line("REFUSED", seconds(10));
  ASSERT_TRUE(line);
  EXPECT_NE(line->find("REFUSED 7 "), std::string::npos) << *line;  // PERMISSION_DENIED
  EXPECT_NE(line->find("uid 0"), std::string::npos) << *line;
  auto claim = as_other_user(*daemon, "mine", "0");
  line = claim->wait_for_line("REFUSED", seconds(10));
  ASSERT_TRUE(line);
  EXPECT_NE(line->find("REFUSED 7 "), std::string::npos) << *line;
  ASSERT_TRUE(get_pool(*stub, "mine", &info).ok()) << "the pool is still there";

  // Reading follows socket access: nobody may subscribe and map it read-only.
  auto reader = as_other_user(*daemon, "mine", "subscribe");
  EXPECT_TRUE(reader->wait_for_line("SUBSCRIBED", seconds(10)));
}

TEST(DaemonSecurity, AnAdminGroupMayManageEveryPool) {
  SKIP_UNLESS_ROOT();
  auto daemon = shared_daemon({"--admin-group", "nogroup"});  // nobody's group
  auto stub = broker_stub(*daemon);
  TestProducer mine(*stub);
  ASSERT_TRUE(mine.claim(pool_metadata("mine")).ok());
  ASSERT_TRUE(mine.close().ok());
  auto del = as_other_user(*daemon, "mine", "delete");
  EXPECT_TRUE(del->wait_for_line("DELETED", seconds(10)));
}

// Row: one Published{seq: 2^64-1} bricked the topic. The daemon reads frames
// from the pool now and ignores what a session says about them: the poison
// changes nothing, and the next producer carries on from the pool's own seq.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"  // an older client's message
TEST(DaemonSecurity, APoisonedPublishNoticeChangesNothing) {
  DaemonProcess daemon;
  auto stub = broker_stub(daemon);
  TestSubscriber sub(*stub, "cam");
  ASSERT_TRUE(sub.next());  // waiting
  {
    TestProducer liar(*stub);
    ASSERT_TRUE(liar.claim(pool_metadata("cam")).ok());
    ASSERT_TRUE(liar.publish(1));
    v1::ProducerMessage poison;
    poison.mutable_published()->set_seq(std::numeric_limits<uint64_t>::max());
    poison.mutable_published()->set_slot(
        static_cast<uint32_t>(std::numeric_limits<uint64_t>::max() % 4));
    ASSERT_TRUE(liar.send(poison));
    EXPECT_TRUE(liar.close().ok());
  }
  TestProducer honest(*stub);
  ASSERT_TRUE(honest.claim(pool_metadata("cam")).ok());
  EXPECT_TRUE(honest.granted().resumed());
  EXPECT_EQ(honest.granted().latest_seq(), 1u);
  ASSERT_TRUE(honest.publish(2));
  for (;;) {
    auto ev = sub.next();
    ASSERT_TRUE(ev) << "the frame after the poison never came";
    if (ev->has_frame() && ev->frame().seq() == 2) break;
  }
}
#pragma GCC diagnostic pop

// Row: a second tensor-ipcd with the default prefix (./scripts/run.sh beside
// the system service) adopted the first's pools and unlinked them at exit.
// Pools have no names now: two daemons, even with one prefix and pools of one
// name, never touch each other's.
TEST(DaemonSecurity, TwoDaemonsWithOnePrefixNeverTouchEachOthersPools) {
  DaemonProcess first({"--retention", "remove"});
  DaemonProcess second({"--shm-prefix", first.shm_prefix(), "--retention", "remove"});
  auto s1 = broker_stub(first);
  auto s2 = broker_stub(second);
  TestProducer p1(*s1);
  TestProducer p2(*s2);
  ASSERT_TRUE(p1.claim(pool_metadata("cam", {16})).ok());
  ASSERT_TRUE(p2.claim(pool_metadata("cam", {32})).ok()) << "the other daemon's pool is not ours";
  for (uint64_t s = 1; s <= 3; ++s) ASSERT_TRUE(p1.publish(s));
  ASSERT_TRUE(p2.publish(1));
  EXPECT_NE(p1.mapping()->identity(), p2.mapping()->identity());
  EXPECT_EQ(first.segments(), std::vector<std::string>{first.shm_prefix() + "cam"});
  EXPECT_EQ(memfd_labels(second.pid(), first.shm_prefix()),
            std::vector<std::string>{first.shm_prefix() + "cam"});

  // The second goes, removing its pools: the first's is untouched.
  p2.cancel();
  EXPECT_EQ(second.terminate(), 0);
  v1::PoolInfo info;
  ASSERT_TRUE(get_pool(*s1, "cam", &info).ok());
  EXPECT_EQ(info.stats().latest_seq(), 3u);
  EXPECT_EQ(info.layout().frame_size(), 16u);
  ASSERT_TRUE(p1.publish(4));
  EXPECT_EQ(p1.mapping()->header().latest_seq.load(), 4u);
}

// Row: a consumer SIGKILLed inside a futex wait left futex_waiters raised
// forever, and every later put paid a wake. The daemon keeps the flag: raised
// while the pool has subscribers, lowered when their streams end, however
// they end. (What it costs put() is bench/'s to measure.)
TEST(DaemonSecurity, AKilledSubscriberLeavesNoWaiterBehind) {
  DaemonProcess daemon;
  auto stub = broker_stub(daemon);
  TestProducer producer(*stub);
  ASSERT_TRUE(producer.claim(pool_metadata("cam")).ok());
  const PoolHeader& h = producer.mapping()->header();
  EXPECT_EQ(h.futex_waiters.load(), 0u);
  auto stuck = std::make_unique<ChildProcess>(
      std::vector<std::string>{TIPC_BROKER_HELPER, daemon.socket_path(), "cam", "subscribe"});
  ASSERT_TRUE(stuck->wait_for_line("SUBSCRIBED", seconds(10)));
  {
    TestSubscriber sub(*stub, "cam");
    ASSERT_TRUE(sub.next());
    EXPECT_EQ(h.futex_waiters.load(), 2u);
  }
  EXPECT_TRUE(eventually([&] { return h.futex_waiters.load() == 1u; }));
  stuck->signal(SIGKILL);
  stuck->wait(seconds(10));
  EXPECT_TRUE(eventually([&] { return h.futex_waiters.load() == 0u; }))
      << "a dead subscriber still counts as a waiter";
}

// A token stolen by another process (read off a client's stream, say) is
// worth nothing: the descriptor channel checks who presents it.
TEST(DaemonSecurity, ATokenWorksOnlyForTheProcessItWasIssuedTo) {
  DaemonProcess daemon;
  auto stub = broker_stub(daemon);
  TestProducer producer(*stub);
  ASSERT_TRUE(producer.claim(pool_metadata("cam")).ok());
  TestSubscriber sub(*stub, "cam");
  auto ev = sub.next();
  ASSERT_TRUE(ev && ev->has_attached());
  const std::string token = ev->attached().descriptor_token();
  const pid_t child = ::fork();
  if (child == 0) {
    auto stolen = fetch_descriptor(daemon.socket_path(), token, seconds(5));
    ::_exit(stolen.status().code() == StatusCode::kPermissionDenied ? 0 : 1);
  }
  int status = 0;
  ASSERT_EQ(::waitpid(child, &status, 0), child);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << "another process used the token";
  // The rightful holder still can.
  EXPECT_TRUE(fetch_descriptor(daemon.socket_path(), token, seconds(5)).ok());
  // Garbage on the channel is refused and the daemon serves on.
  auto sock = connect_seqpacket(descriptor_socket_path(daemon.socket_path()), seconds(5));
  ASSERT_TRUE(sock.ok());
  ASSERT_TRUE(send_packet(*sock, std::string(600, 'x')).ok());
  auto answer = receive_packet(*sock, kMaxDescriptorMessage);
  ::close(*sock);
  ASSERT_TRUE(answer.ok());
  EXPECT_EQ(answer->text.rfind("ERR 3 ", 0), 0u) << answer->text;
  EXPECT_TRUE(daemon.process().running());
}

}  // namespace
}  // namespace tensoripc::testing
