// tensoripc.v1.Broker on gRPC's callback API: each call is handed to the
// Registry with its caller (the connection's credentials, from the
// PeerTable); the streams live in producer_stream.cc and subscribe_stream.cc.
//
// Owns none of what it is given, which must outlive the server. Thread-safe.
#pragma once

#include "daemon/deadlines.h"
#include "daemon/descriptor_broker.h"
#include "daemon/peer_table.h"
#include "daemon/registry.h"
#include "daemon/stream_tracker.h"
#include "daemon/write_gate.h"
#include "tensoripc/v1/broker.grpc.pb.h"

namespace tensoripc::daemon {

class BrokerService final : public v1::Broker::CallbackService {
 public:
  // `socket_path` is what GetDaemonInfo reports as served.
  BrokerService(Registry& registry, const PeerTable& peers, DescriptorBroker& descriptors,
                StreamLimits limits = {}, std::string socket_path = {});

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
  grpc::ServerUnaryReactor* GetDaemonInfo(grpc::CallbackServerContext* context,
                                          const v1::GetDaemonInfoRequest* request,
                                          v1::DaemonInfo* response) override;

  // The streams gRPC has not finished with yet.
  StreamTracker& streams() { return streams_; }

 private:
  Registry& registry_;
  const PeerTable& peers_;
  DescriptorBroker& descriptors_;
  StreamTracker streams_;
  const std::string socket_path_;
  const int64_t started_unix_ns_;
  Deadlines deadlines_;  // a ProducerSession's ClaimPool, a stalled subscriber
  WriteGate writes_;     // Subscribe streams' turns at gRPC
};

}  // namespace tensoripc::daemon
