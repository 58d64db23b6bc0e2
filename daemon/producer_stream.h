// The daemon's side of a ProducerSession call: a producer's lease on one
// pool, alive exactly as long as the stream (see docs/protocol.md).
#pragma once

#include <grpcpp/support/server_callback.h>

#include "daemon/caller.h"
#include "daemon/deadlines.h"
#include "daemon/descriptor_broker.h"
#include "daemon/registry.h"
#include "daemon/stream_tracker.h"
#include "tensoripc/v1/broker.pb.h"

namespace tensoripc::daemon {

// A new reactor for one ProducerSession call of `caller` (an error: the
// call is ended with it), counted in `tracker` until gRPC is done with it and
// it deletes itself; refused with RESOURCE_EXHAUSTED past the tracker's
// stream limits, ended with DEADLINE_EXCEEDED when its ClaimPool does not
// come within the claim timeout (`deadlines` keeps the time). Registry,
// tracker, deadlines and descriptors must outlive every call (the server is
// shut down before they go).
grpc::ServerBidiReactor<v1::ProducerMessage, v1::ProducerEvent>* start_producer_stream(
    Registry& registry, StreamTracker& tracker, Deadlines& deadlines, DescriptorBroker& descriptors,
    StatusOr<Caller> caller);

}  // namespace tensoripc::daemon
