#include "tests/support/process.h"

#include <signal.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <atomic>
#include <cstring>
#include <stdexcept>
#include <thread>

#include "common/shm.h"

namespace tensoripc::testing {
namespace {

// Whether something accepts connections on the Unix socket `path`.
bool accepts(const std::string& path) {
  const int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return false;
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::strncpy(addr.sun_path, path.c_str(), sizeof addr.sun_path - 1);
  const bool ok = ::connect(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof addr) == 0;
  ::close(fd);
  return ok;
}

}  // namespace

std::string daemon_binary() { return TENSORIPC_DAEMON_BINARY; }

DaemonProcess::DaemonProcess(std::vector<std::string> extra_args) {
  static std::atomic<int> counter{0};
  socket_path_ = dir_.path() + "/tensor-ipcd.sock";
  shm_prefix_ = "tipct" + std::to_string(::getpid()) + "x" + std::to_string(counter++) + ".";
  start(extra_args);
}

void DaemonProcess::start(const std::vector<std::string>& extra_args) {
  std::vector<std::string> argv = {daemon_binary(), "--socket",    socket_path_, "--shm-prefix",
                                   shm_prefix_,     "--log-level", "warn"};
  argv.insert(argv.end(), extra_args.begin(), extra_args.end());
  // A restart finds the old socket file until the new daemon replaces it:
  // remove it first, so that "accepts" can only mean the new daemon.
  ::unlink(socket_path_.c_str());
  child_ = std::make_unique<ChildProcess>(argv);
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (std::chrono::steady_clock::now() < deadline) {
    if (!child_->running()) throw std::runtime_error("tensor-ipcd exited during start-up");
    if (accepts(socket_path_)) return;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  throw std::runtime_error("tensor-ipcd did not come up on " + socket_path_);
}

DaemonProcess::~DaemonProcess() {
  if (child_ && child_->running()) {
    child_->signal(SIGTERM);
    if (!child_->wait(std::chrono::seconds(10))) child_->signal(SIGKILL);
  }
  for (const auto& name : segments()) ShmFile::unlink(name);
}

int DaemonProcess::terminate() {
  child_->signal(SIGTERM);
  auto st = child_->wait(std::chrono::seconds(10));
  if (!st) {
    child_->signal(SIGKILL);
    st = child_->wait(std::chrono::seconds(10));
  }
  return *st;
}

void DaemonProcess::restart(bool kill, std::vector<std::string> extra_args) {
  if (kill) {
    child_->signal(SIGKILL);
    child_->wait(std::chrono::seconds(10));
  } else {
    terminate();
  }
  start(extra_args);
}

std::vector<std::string> DaemonProcess::segments() const { return list_segments(shm_prefix_); }

std::vector<std::string> DaemonProcess::client_env() const {
  return {"TENSOR_IPC_SOCKET=" + socket_path_};
}

}  // namespace tensoripc::testing
