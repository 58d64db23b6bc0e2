#include "tests/support/process.h"

#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <stdexcept>
#include <thread>

#include "common/shm.h"

namespace tensoripc::testing {

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
  child_ = std::make_unique<ChildProcess>(argv);
  // gRPC's default reconnect back-off (1 s, growing) would make every start
  // wait seconds for a socket that appears milliseconds after the first try.
  grpc::ChannelArguments channel_args;
  channel_args.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, 20);
  channel_args.SetInt(GRPC_ARG_MIN_RECONNECT_BACKOFF_MS, 20);
  channel_args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, 200);
  channel_ = grpc::CreateCustomChannel("unix:" + socket_path_, grpc::InsecureChannelCredentials(),
                                       channel_args);
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (std::chrono::steady_clock::now() < deadline) {
    if (!child_->running()) throw std::runtime_error("tensor-ipcd exited during start-up");
    if (channel_->WaitForConnected(std::chrono::system_clock::now() +
                                   std::chrono::milliseconds(50))) {
      return;
    }
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

std::shared_ptr<grpc::Channel> DaemonProcess::channel() { return channel_; }

std::unique_ptr<v1::Broker::Stub> DaemonProcess::stub() { return v1::Broker::NewStub(channel_); }

std::vector<std::string> DaemonProcess::segments() const { return list_segments(shm_prefix_); }

std::vector<std::string> DaemonProcess::client_env() const {
  return {"TENSOR_IPC_SOCKET=" + socket_path_};
}

}  // namespace tensoripc::testing
