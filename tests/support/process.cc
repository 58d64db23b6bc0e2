#include "tests/support/process.h"

#include <filesystem>
#include <set>

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <stdexcept>
#include <thread>

#include "common/shm.h"

namespace tensoripc::testing {
namespace {

// The daemon's readiness, as systemd would see it: a Unix datagram socket
// named by NOTIFY_SOCKET, on which sd_notify writes READY=1 once the daemon
// serves (socket bound and chmod-ed, leftovers adopted).
class NotifySocket {
 public:
  explicit NotifySocket(const std::string& path) : path_(path) {
    ::unlink(path_.c_str());
    fd_ = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::strncpy(addr.sun_path, path_.c_str(), sizeof addr.sun_path - 1);
    if (fd_ < 0 || ::bind(fd_, reinterpret_cast<const sockaddr*>(&addr), sizeof addr) != 0) {
      throw std::runtime_error("cannot make the notify socket " + path_ + ": " +
                               std::strerror(errno));
    }
  }
  ~NotifySocket() {
    if (fd_ >= 0) ::close(fd_);
    ::unlink(path_.c_str());
  }

  // Whether a datagram holding READY=1 came within `timeout`.
  bool ready_within(std::chrono::milliseconds timeout) {
    pollfd p{fd_, POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(timeout.count())) <= 0) return false;
    char buf[512];
    const ssize_t n = ::recv(fd_, buf, sizeof buf - 1, 0);
    if (n <= 0) return false;
    buf[n] = '\0';
    return std::strstr(buf, "READY=1") != nullptr;
  }

 private:
  std::string path_;
  int fd_ = -1;
};

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
  NotifySocket notify(dir_.path() + "/notify.sock");
  child_ = std::make_unique<ChildProcess>(
      argv, std::vector<std::string>{"NOTIFY_SOCKET=" + dir_.path() + "/notify.sock"});
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (std::chrono::steady_clock::now() < deadline) {
    if (notify.ready_within(std::chrono::milliseconds(50))) return;
    if (!child_->running()) throw std::runtime_error("tensor-ipcd exited during start-up");
  }
  throw std::runtime_error("tensor-ipcd did not come up on " + socket_path_);
}

DaemonProcess::~DaemonProcess() {
  if (child_ && child_->running()) {
    child_->signal(SIGTERM);
    if (!child_->wait(std::chrono::seconds(10))) child_->signal(SIGKILL);
  }
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

std::vector<std::string> DaemonProcess::segments() const {
  if (!child_ || !child_->running()) return {};
  return memfd_labels(child_->pid(), shm_prefix_);
}

std::vector<std::string> memfd_labels(pid_t pid, const std::string& prefix) {
  std::set<std::string> labels;
  const std::string dir = "/proc/" + std::to_string(pid) + "/fd";
  const std::string marker = "/memfd:" + prefix;
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator(dir, ec)) {
    std::error_code link_ec;
    std::string target = std::filesystem::read_symlink(entry.path(), link_ec).string();
    if (link_ec || target.rfind(marker, 0) != 0) continue;
    target = target.substr(std::string("/memfd:").size());
    const auto deleted = target.rfind(" (deleted)");
    if (deleted != std::string::npos) target.resize(deleted);
    labels.insert(target);
  }
  return {labels.begin(), labels.end()};
}

ShmFile open_process_memfd(pid_t pid, const std::string& label, bool writable) {
  const std::string dir = "/proc/" + std::to_string(pid) + "/fd";
  const std::string want = "/memfd:" + label + " (deleted)";
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator(dir, ec)) {
    std::error_code link_ec;
    if (std::filesystem::read_symlink(entry.path(), link_ec).string() != want || link_ec) continue;
    const int fd = ::open(entry.path().c_str(), (writable ? O_RDWR : O_RDONLY) | O_CLOEXEC);
    if (fd < 0) {
      throw std::runtime_error("cannot open " + entry.path().string() + ": " +
                               std::strerror(errno));
    }
    return ShmFile::adopt_fd(fd, label);
  }
  throw std::runtime_error("process " + std::to_string(pid) + " holds no memfd " + label);
}

bool any_shm_file_with_prefix(const std::string& prefix) {
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator("/dev/shm", ec)) {
    if (entry.path().filename().string().rfind(prefix, 0) == 0) return true;
  }
  return false;
}

std::vector<std::string> DaemonProcess::client_env() const {
  return {"TENSOR_IPC_SOCKET=" + socket_path_};
}

}  // namespace tensoripc::testing
