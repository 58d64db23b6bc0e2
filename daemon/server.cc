#include "daemon/server.h"

#include <grpcpp/ext/proto_server_reflection_plugin.h>
#include <grpcpp/health_check_service_interface.h>
#include <grpcpp/security/server_credentials.h>
#include <grpcpp/server_builder.h>
#include <grpcpp/server_posix.h>
#include <grp.h>
#include <spdlog/spdlog.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <future>
#include <thread>
#include <vector>

#include "common/socket_path.h"
#include "common/unix_socket.h"
#include "grpc/health/v1/health.pb.h"

namespace tensoripc::daemon {
namespace {

bool is_socket(const std::string& path) {
  struct stat st {};
  return ::lstat(path.c_str(), &st) == 0 && S_ISSOCK(st.st_mode);
}

// True when something accepts connections on `path`: listen_unix would
// replace that socket with its own, silently cutting the other daemon off.
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

// A group name or number -> gid.
StatusOr<uint32_t> resolve_group(const std::string& group) {
  if (group.find_first_not_of("0123456789") == std::string::npos) {
    return static_cast<uint32_t>(std::stoul(group));
  }
  std::vector<char> buf(16384);
  struct group g {};
  struct group* found = nullptr;
  if (::getgrnam_r(group.c_str(), &g, buf.data(), buf.size(), &found) != 0 || !found) {
    return invalid_argument("admin group '" + group + "' does not exist");
  }
  return static_cast<uint32_t>(found->gr_gid);
}

}  // namespace

Server::Server(Registry& registry, std::string socket_path, std::optional<uint32_t> admin_gid)
    : registry_(registry), socket_path_(std::move(socket_path)), peers_(admin_gid) {}

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

  std::optional<uint32_t> admin_gid;
  if (!config.admin_group.empty()) {
    auto gid = resolve_group(config.admin_group);
    if (!gid.ok()) return gid.status();
    admin_gid = *gid;
  }

  // Reflection can describe grpc.health.v1.Health only when its descriptor is
  // in this binary; naming it here keeps the linker from dropping it.
  (void)grpc::health::v1::HealthCheckRequest::descriptor();
  grpc::EnableDefaultHealthCheckService(true);
  grpc::reflection::InitProtoReflectionServerBuilderPlugin();

  std::unique_ptr<Server> server(new Server(registry, path, admin_gid));
  auto descriptors = DescriptorBroker::start(path, config.socket_mode);
  if (!descriptors.ok()) return descriptors.status();
  server->descriptors_ = std::move(*descriptors);
  server->service_ =
      std::make_unique<BrokerService>(registry, server->peers_, *server->descriptors_,
                                      config.streams, path);
  auto listen_fd = listen_unix(path, SOCK_STREAM, config.socket_mode);
  if (!listen_fd.ok()) return listen_fd.status();
  // No listening port: the acceptor below hands gRPC each connection.
  grpc::ServerBuilder builder;
  builder.RegisterService(server->service_.get());
  server->server_ = builder.BuildAndStart();
  if (!server->server_) {
    ::close(*listen_fd);
    ::unlink(path.c_str());
    return Status(StatusCode::kUnavailable, "cannot start the gRPC server");
  }
  if (grpc::HealthCheckServiceInterface* health = server->server_->GetHealthCheckService()) {
    health->SetServingStatus(true);
    health->SetServingStatus(v1::Broker::service_full_name(), true);
  }
  // gRPC's transport needs a non-blocking socket: a blocking one hangs it.
  server->acceptor_ = std::make_unique<Acceptor>(
      "gRPC socket", *listen_fd, SOCK_NONBLOCK, [s = server.get()](int fd) { s->on_accept(fd); });
  return server;
}

void Server::on_accept(int fd) {
  auto cred = peer_credentials(fd);
  if (!cred.ok()) {
    spdlog::warn("refusing a connection: {}", cred.status().message());
    ::close(fd);
    return;
  }
  peers_.add(fd, *cred);
  grpc::AddInsecureChannelFromFd(server_.get(), fd);
}

bool Server::shutdown(std::chrono::milliseconds grace) {
  if (!server_) return true;
  if (grpc::HealthCheckServiceInterface* health = server_->GetHealthCheckService()) {
    health->Shutdown();
  }
  if (acceptor_) acceptor_->stop();
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
  if (descriptors_) descriptors_->stop();
  return clean;
}

}  // namespace tensoripc::daemon
