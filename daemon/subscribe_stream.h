// The Subscribe stream: one subscriber's pool metadata, frame events and
// lifecycle events (see docs/protocol.md).
#pragma once

#include <grpcpp/support/server_callback.h>

#include "daemon/caller.h"
#include "daemon/deadlines.h"
#include "daemon/descriptor_broker.h"
#include "daemon/registry.h"
#include "daemon/stream_tracker.h"
#include "daemon/write_gate.h"
#include "tensoripc/v1/broker.pb.h"

namespace tensoripc::daemon {

// A new reactor for one Subscribe call of `caller` on `context` (finished at
// once with the error when the request is invalid or the caller an error),
// counted in `tracker` until gRPC is done with it and it deletes itself; its
// writes take turns at `gate`; a write that waits longer than the tracker's
// stall_timeout (the subscriber does not read) ends the stream, timed by
// `deadlines`. Registry, tracker, deadlines, descriptors and gate must
// outlive every call.
grpc::ServerWriteReactor<v1::SubscribeEvent>* start_subscribe_stream(
    Registry& registry, StreamTracker& tracker, Deadlines& deadlines, DescriptorBroker& descriptors,
    WriteGate& gate, grpc::CallbackServerContext* context, StatusOr<Caller> caller,
    const v1::SubscribeRequest& request);

}  // namespace tensoripc::daemon
