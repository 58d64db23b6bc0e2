#include "connection.h"

#include <sys/stat.h>

#include <cctype>
#include <map>
#include <mutex>

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
  return channel_->WaitForConnected(std::chrono::system_clock::now() + timeout);
}

void throw_daemon_unavailable(const std::string& socket_path, const std::string& detail) {
  struct stat st {};
  const bool exists = ::stat(socket_path.c_str(), &st) == 0;
  std::string msg = "cannot reach tensor-ipcd at " + socket_path + " (" + detail +
                    (exists ? "" : "; the socket does not exist") +
                    "). Start the daemon (`tensor-ipcd`, or `systemctl start tensor-ipcd` for "
                    "the system service), or set " +
                    kSocketEnv + " to the socket it listens on.";
  throw DaemonUnavailableError(msg, socket_path);
}

// "topic 'x' is already published by pid 1234" -> 1234.
int holder_pid_from(const std::string& message) {
  const auto at = message.rfind("pid ");
  if (at == std::string::npos) return 0;
  int pid = 0;
  for (size_t i = at + 4;
       i < message.size() && std::isdigit(static_cast<unsigned char>(message[i])); ++i) {
    pid = pid * 10 + (message[i] - '0');
  }
  return pid;
}

void throw_for_status(const grpc::Status& status, const std::string& pool,
                      const std::string& socket_path) {
  const std::string& m = status.error_message();
  switch (status.error_code()) {
    case grpc::StatusCode::ALREADY_EXISTS:
      throw TopicTakenError(m, pool, holder_pid_from(m));
    case grpc::StatusCode::INVALID_ARGUMENT:
      throw InvalidArgumentError(m);
    case grpc::StatusCode::RESOURCE_EXHAUSTED:
      throw ResourceExhaustedError(m);
    case grpc::StatusCode::UNAVAILABLE:
      throw_daemon_unavailable(socket_path, m.empty() ? "unavailable" : m);
    default:
      throw Error("pool '" + pool + "': tensor-ipcd at " + socket_path + " answered " +
                  std::to_string(status.error_code()) + ": " + m);
  }
}

}  // namespace tensoripc
