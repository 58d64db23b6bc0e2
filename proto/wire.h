// Between the wire and the model: the one place that converts tensoripc.v1
// messages to the plain C++ of pool/ and back, and tensoripc::Status to
// grpc::Status and back (with the typed details docs/protocol.md lists). The
// daemon's and the client's gRPC edges both use it; nothing else sees a
// protobuf type.
//
// Reading a message checks what the model cannot represent (a dtype this
// build does not know, a bad name) and says so with INVALID_ARGUMENT; the
// rest is checked by complete_metadata (pool/model.h) where it matters.
// Stateless; thread-safe.
#pragma once

#include <grpcpp/support/status.h>

#include "common/status.h"
#include "pool/broker.h"
#include "pool/layout.h"
#include "pool/ring.h"
#include "tensoripc/metadata.h"
#include "tensoripc/v1/broker.pb.h"

namespace tensoripc::wire {

void to_proto(const PoolMetadata& md, v1::PoolMetadata* out);
StatusOr<PoolMetadata> from_proto(const v1::PoolMetadata& md);

void to_proto(const Layout& layout, v1::PoolLayout* out);
Layout from_proto(const v1::PoolLayout& layout);

void to_proto(const Claim& claim, v1::ClaimPool* out);
StatusOr<Claim> from_proto(const v1::ClaimPool& claim);

// A GPU pool's device memory; an absent message is CudaMemory{} (kNone).
// The form of the bytes is check_cuda_memory's (pool/cuda_memory.h) to judge.
void to_proto(const CudaMemory& cuda, v1::CudaMemory* out);
CudaMemory from_proto(const v1::CudaMemory& cuda);

void to_proto(const Grant& grant, v1::PoolGranted* out);
StatusOr<Grant> from_proto(const v1::PoolGranted& grant);

// Subscribe stream events. A lifecycle event is copied into a new PoolEvent.
void to_proto(const StreamEvent& event, v1::SubscribeEvent* out);
StatusOr<StreamEvent> from_proto(const v1::SubscribeEvent& event);

void to_proto(const PoolRecord& info, v1::PoolInfo* out);
StatusOr<PoolRecord> from_proto(const v1::PoolInfo& info);

// GetDaemonInfo's answer (tensoripc/daemon.h).
void to_proto(const DaemonInfo& info, v1::DaemonInfo* out);
DaemonInfo from_proto(const v1::DaemonInfo& info);

// The code and message, and the details a program acts on (TopicHeld for a
// status with a holder pid) in the standard google.rpc.Status trailer.
grpc::Status to_grpc(const Status& status);
// The inverse; details it does not know are ignored.
Status from_grpc(const grpc::Status& status);

}  // namespace tensoripc::wire
