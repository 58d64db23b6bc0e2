#include "daemon/server.h"

#include <grpcpp/ext/proto_server_reflection_plugin.h>
#include <grpcpp/health_check_service_interface.h>
#include <grpcpp/security/server_credentials.h>
#include <grpcpp/server_builder.h>
#include <spdlog/spdlog.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <future>
#include <thread>

#include "common/socket_path.h"
#include "grpc/health/v1/health.pb.h"

namespace tensoripc::daemon {
namespace {

bool is_socket(const std::string& path) {
  struct stat st {};
  return ::lstat(path.c_str(), &st) == 0 && S_ISSOCK(st.st_mode);
}

// True when something accepts connections on `path`: gRPC would unlink that
// socket and bind its own, silently cutting the other daemon off.
bool socket_answers(const std::string& path) {
  if (!is_socket(path)) return false;
  const int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return false;
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::strncpy(addr.sun_path, path.c_str(), sizeof addr.sun_path - 1);
  const bool answered = ::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
  ::close(fd);
  return answered;
}

}  // namespace

Server::Server(Registry& registry, std::string socket_path)
    : registry_(registry),
      socket_path_(std::move(socket_path)),
      service_(std::make_unique<BrokerService>(registry)) {}

Server::~Server() {
  if (server_) shutdown();
}

StatusOr<std::unique_ptr<Server>> Server::start(const Config& config, Registry& registry) {
  const std::string& path = config.socket_path;
  if (Status s = ensure_socket_dir(path); !s.ok()) return s;
  if (socket_answers(path)) {
    return Status(StatusCode::kAlreadyExists,
                  "another process (a running tensor-ipcd?) is serving on " + path +
                      "; stop it or pass another --socket");
  }

  // Reflection can describe grpc.health.v1.Health only when its descriptor is
  // in this binary; naming it here keeps the linker from dropping it.
  (void)grpc::health::v1::HealthCheckRequest::descriptor();
  grpc::EnableDefaultHealthCheckService(true);
  grpc::reflection::InitProtoReflectionServerBuilderPlugin();

  std::unique_ptr<Server> server(new Server(registry, path));
  grpc::ServerBuilder builder;
  builder.AddListeningPort(grpc_target(path), grpc::InsecureServerCredentials());
  builder.RegisterService(server->service_.get());
  server->server_ = builder.BuildAndStart();
  if (!server->server_) {
    return Status(StatusCode::kUnavailable,
                  "cannot serve on " + path + "; check that its directory is writable");
  }
  if (::chmod(path.c_str(), config.socket_mode) != 0) {
    spdlog::warn("cannot set the mode of {} to {:o}: {}", path, config.socket_mode,
                 std::strerror(errno));
  }
  if (grpc::HealthCheckServiceInterface* health = server->server_->GetHealthCheckService()) {
    health->SetServingStatus(true);
    health->SetServingStatus(v1::Broker::service_full_name(), true);
  }
  return server;
}

bool Server::shutdown(std::chrono::milliseconds grace) {
  if (!server_) return true;
  if (grpc::HealthCheckServiceInterface* health = server_->GetHealthCheckService()) {
    health->Shutdown();
  }
  registry_.shutdown();
  if (!service_->streams().wait_idle(grace)) {
    spdlog::warn("streams still open after {} ms (a subscriber not reading?): cancelling them",
                 grace.count());
  }
  // Every stream has ended: no need to wait for idle connections to close,
  // hence a deadline of now. On a thread of its own, because it can hang.
  auto stopped = std::make_shared<std::promise<void>>();
  std::future<void> done = stopped->get_future();
  grpc::Server* raw = server_.get();
  std::thread stopper([raw, stopped] {
    raw->Shutdown(std::chrono::system_clock::now());
    raw->Wait();
    stopped->set_value();
  });
  bool clean = done.wait_for(grace) == std::future_status::ready;
  if (clean) {
    stopper.join();
    server_.reset();
  } else {
    spdlog::warn(
        "gRPC did not stop within {} ms (a client is not reading its connection); "
        "leaving without it",
        grace.count());
    stopper.detach();
    (void)server_.release();  // still in use by `stopper`; the process exits next
  }
  if (is_socket(socket_path_)) ::unlink(socket_path_.c_str());
  return clean;
}

}  // namespace tensoripc::daemon
