// tensoripc.v1.Broker on gRPC's callback API: each call is handed to the
// Registry; the streams live in producer_session.cc and subscribe_stream.cc.
//
// Does not own the Registry, which must outlive the server. Thread-safe (the
// Registry is).
#pragma once

#include "daemon/registry.h"
#include "daemon/stream_tracker.h"
#include "tensoripc/v1/broker.grpc.pb.h"

namespace tensoripc::daemon {

class BrokerService final : public v1::Broker::CallbackService {
 public:
  explicit BrokerService(Registry& registry) : registry_(registry) {}

  grpc::ServerBidiReactor<v1::ProducerMessage, v1::ProducerEvent>* ProducerSession(
      grpc::CallbackServerContext* context) override;
  grpc::ServerWriteReactor<v1::SubscribeEvent>* Subscribe(
      grpc::CallbackServerContext* context, const v1::SubscribeRequest* request) override;
  grpc::ServerUnaryReactor* ListPools(grpc::CallbackServerContext* context,
                                      const v1::ListPoolsRequest* request,
                                      v1::ListPoolsResponse* response) override;
  grpc::ServerUnaryReactor* GetPool(grpc::CallbackServerContext* context,
                                    const v1::GetPoolRequest* request,
                                    v1::PoolInfo* response) override;
  grpc::ServerUnaryReactor* DeletePool(grpc::CallbackServerContext* context,
                                       const v1::DeletePoolRequest* request,
                                       v1::DeletePoolResponse* response) override;

  // The streams gRPC has not finished with yet.
  StreamTracker& streams() { return streams_; }

 private:
  Registry& registry_;
  StreamTracker streams_;
};

}  // namespace tensoripc::daemon
