// DaemonClient: the query RPCs (GetDaemonInfo, ListPools, GetPool,
// DeletePool) over the process's shared Connection.
#include "tensoripc/daemon.h"

#include <utility>

#include "common/socket_path.h"
#include "connection.h"
#include "proto/wire.h"
#include "tensoripc/error.h"

namespace tensoripc {
namespace {

// A query answers at once; the deadline only bounds a daemon that stopped
// answering (SIGSTOP) after the connection was made.
constexpr std::chrono::seconds kCallDeadline{10};

PoolInfo public_info(const PoolRecord& r) {
  PoolInfo info;
  info.metadata = r.metadata;
  info.layout.generation = r.layout.generation;
  info.layout.frame_size = r.layout.frame_size;
  info.layout.slot_stride = r.layout.slot_stride;
  info.layout.slot_count = r.layout.slot_count;
  info.layout.segment_size = r.layout.segment_size;
  switch (r.cuda.sharing) {
    case CudaMemory::Sharing::kNone:
      break;
    case CudaMemory::Sharing::kLegacyIpc:
      info.layout.cuda_sharing = "legacy-ipc";
      break;
    case CudaMemory::Sharing::kVmmFd:
      info.layout.cuda_sharing = "vmm-fd";
      break;
  }
  info.layout.cuda_allocation_size = r.cuda.allocation_size;
  info.stats = r.stats;
  return info;
}

}  // namespace

std::string default_socket_path() { return resolve_socket_path(); }

SocketChoice default_socket() {
  ResolvedSocket r = resolve_socket();
  return {std::move(r.path), std::move(r.source)};
}

const char* system_socket_path() { return kSystemSocketPath; }

class DaemonClient::Impl {
 public:
  Impl(std::string socket_path, std::chrono::milliseconds connect_timeout)
      : connection_(Connection::get(socket_path)), connect_timeout_(connect_timeout) {}

  const std::string& socket_path() const { return connection_->socket_path(); }

  // Runs one unary call; a failure to connect is DaemonUnavailableError.
  template <typename Call>
  Status call(const std::string& what, Call&& rpc) {
    if (!connection_->wait_connected(connect_timeout_)) {
      throw_daemon_unavailable(socket_path(), "no answer within " +
                                                  std::to_string(connect_timeout_.count()) +
                                                  " ms");
    }
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + kCallDeadline);
    const Status status = wire::from_grpc(rpc(context, connection_->stub()));
    if (status.code() == StatusCode::kUnavailable ||
        status.code() == StatusCode::kDeadlineExceeded) {
      throw_daemon_unavailable(socket_path(), what + ": " + status.message());
    }
    return status;
  }

 private:
  std::shared_ptr<Connection> connection_;
  std::chrono::milliseconds connect_timeout_;
};

DaemonClient::DaemonClient(std::string socket_path, std::chrono::milliseconds connect_timeout)
    : impl_(std::make_unique<Impl>(std::move(socket_path), connect_timeout)) {}
DaemonClient::~DaemonClient() = default;
DaemonClient::DaemonClient(DaemonClient&&) noexcept = default;
DaemonClient& DaemonClient::operator=(DaemonClient&&) noexcept = default;

const std::string& DaemonClient::socket_path() const { return impl_->socket_path(); }

DaemonInfo DaemonClient::info() {
  v1::DaemonInfo response;
  const Status status = impl_->call("GetDaemonInfo", [&](grpc::ClientContext& ctx,
                                                          v1::Broker::Stub& stub) {
    return stub.GetDaemonInfo(&ctx, v1::GetDaemonInfoRequest(), &response);
  });
  if (status.code() == StatusCode::kUnimplemented) {
    throw Error("tensor-ipcd at " + socket_path() +
                " is older than this library and does not answer GetDaemonInfo");
  }
  if (!status.ok()) throw_for_status(status, "", socket_path());
  return wire::from_proto(response);
}

std::vector<PoolInfo> DaemonClient::list_pools() {
  v1::ListPoolsResponse response;
  const Status status =
      impl_->call("ListPools", [&](grpc::ClientContext& ctx, v1::Broker::Stub& stub) {
        return stub.ListPools(&ctx, v1::ListPoolsRequest(), &response);
      });
  if (!status.ok()) throw_for_status(status, "", socket_path());
  std::vector<PoolInfo> pools;
  for (const v1::PoolInfo& p : response.pools()) {
    auto record = wire::from_proto(p);
    // A pool this build cannot represent (a dtype it does not know) is left
    // out rather than failing the whole list.
    if (record.ok()) pools.push_back(public_info(*record));
  }
  return pools;
}

std::optional<PoolInfo> DaemonClient::get_pool(const std::string& name) {
  v1::PoolInfo response;
  const Status status =
      impl_->call("GetPool", [&](grpc::ClientContext& ctx, v1::Broker::Stub& stub) {
        v1::GetPoolRequest request;
        request.set_name(name);
        return stub.GetPool(&ctx, request, &response);
      });
  if (status.code() == StatusCode::kNotFound) return std::nullopt;
  if (!status.ok()) throw_for_status(status, name, socket_path());
  auto record = wire::from_proto(response);
  if (!record.ok()) throw Error("pool '" + name + "': " + record.status().message());
  return public_info(*record);
}

bool DaemonClient::delete_pool(const std::string& name, bool force) {
  const Status status =
      impl_->call("DeletePool", [&](grpc::ClientContext& ctx, v1::Broker::Stub& stub) {
        v1::DeletePoolRequest request;
        request.set_name(name);
        request.set_force(force);
        v1::DeletePoolResponse response;
        return stub.DeletePool(&ctx, request, &response);
      });
  if (status.code() == StatusCode::kNotFound) return false;
  if (status.code() == StatusCode::kFailedPrecondition) throw StateError(status.message());
  if (!status.ok()) throw_for_status(status, name, socket_path());
  return true;
}

}  // namespace tensoripc
