// The daemon's side of a ProducerSession call: a producer's lease on one
// pool, alive exactly as long as the stream (see docs/protocol.md).
#pragma once

#include <grpcpp/support/server_callback.h>

#include "daemon/caller.h"
#include "daemon/descriptor_broker.h"
#include "daemon/registry.h"
#include "daemon/stream_tracker.h"
#include "tensoripc/v1/broker.pb.h"

namespace tensoripc::daemon {

// A new reactor for one ProducerSession call of `caller` (an error: the
// call is ended with it), counted in `tracker` until gRPC is done with it and
// it deletes itself. Registry, tracker and descriptors must outlive every
// call (the server is shut down before they go).
grpc::ServerBidiReactor<v1::ProducerMessage, v1::ProducerEvent>* start_producer_stream(
    Registry& registry, StreamTracker& tracker, DescriptorBroker& descriptors,
    StatusOr<Caller> caller);

}  // namespace tensoripc::daemon
