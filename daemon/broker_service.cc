#include "daemon/broker_service.h"

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

grpc::ServerBidiReactor<v1::ProducerMessage, v1::ProducerEvent>* BrokerService::ProducerSession(
    grpc::CallbackServerContext* context) {
  return start_producer_stream(registry_, streams_, deadlines_, descriptors_,
                               caller_of(peers_, context));
}

grpc::ServerWriteReactor<v1::SubscribeEvent>* BrokerService::Subscribe(
    grpc::CallbackServerContext* context, const v1::SubscribeRequest* request) {
  return start_subscribe_stream(registry_, streams_, descriptors_, writes_, caller_of(peers_, context),
                                *request);
}

grpc::ServerUnaryReactor* BrokerService::ListPools(grpc::CallbackServerContext* context,
                                                   const v1::ListPoolsRequest* /*request*/,
                                                   v1::ListPoolsResponse* response) {
  for (const PoolInfo& info : registry_.list()) wire::to_proto(info, response->add_pools());
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

}  // namespace tensoripc::daemon
