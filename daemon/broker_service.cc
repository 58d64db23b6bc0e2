#include "daemon/broker_service.h"

#include <unistd.h>

#include "common/clock.h"

#include "daemon/producer_stream.h"
#include "daemon/subscribe_stream.h"
#include "proto/wire.h"

namespace tensoripc::daemon {
namespace {

grpc::ServerUnaryReactor* finish(grpc::CallbackServerContext* context, const Status& status) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  reactor->Finish(wire::to_grpc(status));
  return reactor;
}

// Every connection is accepted by the daemon, which records its
// credentials; a call from anywhere else is a bug, refused.
StatusOr<Caller> caller_of(const PeerTable& peers, grpc::CallbackServerContext* context) {
  if (auto caller = peers.lookup(context->peer())) return *caller;
  return internal_error("cannot tell who is calling (peer " + context->peer() + ")");
}

}  // namespace

BrokerService::BrokerService(Registry& registry, const PeerTable& peers,
                             DescriptorBroker& descriptors, StreamLimits limits,
                             std::string socket_path)
    : registry_(registry),
      peers_(peers),
      descriptors_(descriptors),
      streams_(limits),
      socket_path_(std::move(socket_path)),
      started_unix_ns_(realtime_ns()) {}

grpc::ServerBidiReactor<v1::ProducerMessage, v1::ProducerEvent>* BrokerService::ProducerSession(
    grpc::CallbackServerContext* context) {
  return start_producer_stream(registry_, streams_, deadlines_, descriptors_,
                               caller_of(peers_, context));
}

grpc::ServerWriteReactor<v1::SubscribeEvent>* BrokerService::Subscribe(
    grpc::CallbackServerContext* context, const v1::SubscribeRequest* request) {
  return start_subscribe_stream(registry_, streams_, deadlines_, descriptors_, writes_, context,
                                caller_of(peers_, context), *request);
}

grpc::ServerUnaryReactor* BrokerService::ListPools(grpc::CallbackServerContext* context,
                                                   const v1::ListPoolsRequest* /*request*/,
                                                   v1::ListPoolsResponse* response) {
  for (const PoolRecord& info : registry_.list()) wire::to_proto(info, response->add_pools());
  return finish(context, {});
}

grpc::ServerUnaryReactor* BrokerService::GetPool(grpc::CallbackServerContext* context,
                                                 const v1::GetPoolRequest* request,
                                                 v1::PoolInfo* response) {
  auto info = registry_.get(request->name());
  if (info.ok()) wire::to_proto(*info, response);
  return finish(context, info.status());
}

grpc::ServerUnaryReactor* BrokerService::DeletePool(grpc::CallbackServerContext* context,
                                                    const v1::DeletePoolRequest* request,
                                                    v1::DeletePoolResponse* /*response*/) {
  auto caller = caller_of(peers_, context);
  if (!caller.ok()) return finish(context, caller.status());
  return finish(context, registry_.remove(request->name(), request->force(), *caller));
}

grpc::ServerUnaryReactor* BrokerService::GetDaemonInfo(grpc::CallbackServerContext* context,
                                                       const v1::GetDaemonInfoRequest* /*request*/,
                                                       v1::DaemonInfo* response) {
  auto caller = caller_of(peers_, context);
  if (!caller.ok()) return finish(context, caller.status());
  DaemonInfo d;
  d.version = TENSORIPC_VERSION;
  d.pid = static_cast<int32_t>(::getpid());
  d.uid = static_cast<uint32_t>(::getuid());
  d.started_unix_ns = started_unix_ns_;
  d.socket_path = socket_path_;
  const RegistryOptions& options = registry_.options();
  d.retention = options.retention == Retention::kKeep ? "keep" : "remove";
  d.max_pools = options.max_pools;
  d.max_pool_bytes = options.max_pool_bytes;
  d.max_total_bytes = registry_.max_total_bytes();
  for (const PoolRecord& pool : registry_.list()) {
    ++d.pools;
    d.pool_bytes += pool.layout.segment_size;
  }
  d.streams = streams_.admitted();
  d.max_streams = streams_.limits().max_streams;
  d.max_streams_per_uid = streams_.limits().max_streams_per_uid;
  d.caller_pid = caller->pid;
  d.caller_uid = caller->uid;
  d.caller_is_admin = caller->admin || caller->uid == 0;
  wire::to_proto(d, response);
  return finish(context, {});
}

}  // namespace tensoripc::daemon
