// The Subscribe stream: one subscriber's pool metadata, frame events and
// lifecycle events (see docs/protocol.md).
#pragma once

#include <grpcpp/support/server_callback.h>

#include "daemon/registry.h"
#include "tensoripc/v1/broker.pb.h"

namespace tensoripc::daemon {

// A new reactor for one Subscribe call (finished at once with the error when
// the request is invalid). It deletes itself when gRPC is done with it; the
// registry must outlive every call.
grpc::ServerWriteReactor<v1::SubscribeEvent>* start_subscribe_stream(
    Registry& registry, const v1::SubscribeRequest& request);

}  // namespace tensoripc::daemon
