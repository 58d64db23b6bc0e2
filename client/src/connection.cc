#include "connection.h"

#include <sys/stat.h>

#include <algorithm>
#include <map>
#include <mutex>
#include <thread>

#include "common/socket_path.h"
#include "tensoripc/error.h"

namespace tensoripc {

Connection::Connection(std::string socket_path) : socket_path_(std::move(socket_path)) {
  grpc::ChannelArguments args;
  args.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, 50);
  args.SetInt(GRPC_ARG_MIN_RECONNECT_BACKOFF_MS, 50);
  args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, 1000);
  // Each Connection gets its own subchannel, so a test that starts several
  // daemons on one path in turn never inherits a stale one.
  args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
  channel_ = grpc::CreateCustomChannel(grpc_target(socket_path_),
                                       grpc::InsecureChannelCredentials(), args);
  stub_ = v1::Broker::NewStub(channel_);
}

std::shared_ptr<Connection> Connection::get(const std::string& socket_path) {
  const std::string path = socket_path.empty() ? resolve_socket_path() : socket_path;
  static std::mutex mu;
  static auto* connections = new std::map<std::string, std::weak_ptr<Connection>>();
  std::lock_guard<std::mutex> lock(mu);
  auto& slot = (*connections)[path];
  if (auto existing = slot.lock()) return existing;
  auto created = std::make_shared<Connection>(path);
  slot = created;
  return created;
}

bool Connection::wait_connected(std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  const auto grace = std::chrono::steady_clock::now() + std::min(timeout, kSocketGrace);
  struct stat st {};
  while (::stat(socket_path_.c_str(), &st) != 0) {
    if (std::chrono::steady_clock::now() >= grace) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  const auto left = deadline - std::chrono::steady_clock::now();
  return channel_->WaitForConnected(
      std::chrono::system_clock::now() +
      std::chrono::duration_cast<std::chrono::system_clock::duration>(left));
}

void throw_daemon_unavailable(const std::string& socket_path, const std::string& detail) {
  struct stat st {};
  const bool exists = ::stat(socket_path.c_str(), &st) == 0;
  // No socket: whatever the caller waited for, that is the reason.
  std::string msg = "cannot reach tensor-ipcd at " + socket_path + " (" +
                    (exists ? detail : "the socket does not exist") +
                    "). Start the daemon (`tensor-ipcd`, or `systemctl start tensor-ipcd` for "
                    "the system service), or set " +
                    kSocketEnv + " to the socket it listens on.";
  throw DaemonUnavailableError(msg, socket_path);
}

void throw_for_status(const Status& status, const std::string& pool,
                      const std::string& socket_path) {
  const std::string& m = status.message();
  switch (status.code()) {
    case StatusCode::kAlreadyExists:
      throw TopicTakenError(m, pool, status.holder_pid());
    case StatusCode::kInvalidArgument:
      throw InvalidArgumentError(m);
    case StatusCode::kResourceExhausted:
      throw ResourceExhaustedError(m);
    case StatusCode::kUnavailable:
      throw_daemon_unavailable(socket_path, m.empty() ? "unavailable" : m);
    default:
      throw Error("pool '" + pool + "': tensor-ipcd at " + socket_path + " answered " +
                  std::to_string(static_cast<int>(status.code())) + ": " + m);
  }
}

}  // namespace tensoripc
