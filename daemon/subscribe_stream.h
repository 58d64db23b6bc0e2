// The Subscribe stream: one subscriber's pool metadata, frame events and
// lifecycle events (see docs/protocol.md).
#pragma once

#include <grpcpp/support/server_callback.h>

#include "daemon/registry.h"
#include "daemon/stream_tracker.h"
#include "tensoripc/v1/broker.pb.h"

namespace tensoripc::daemon {

// A new reactor for one Subscribe call (finished at once with the error when
// the request is invalid), counted in `tracker` until gRPC is done with it and
// it deletes itself. Registry and tracker must outlive every call.
grpc::ServerWriteReactor<v1::SubscribeEvent>* start_subscribe_stream(
    Registry& registry, StreamTracker& tracker, const v1::SubscribeRequest& request);

}  // namespace tensoripc::daemon
