// Conversions between the public PoolMetadata and its wire form. Private to
// the client library (the public headers never show protobuf types).
#pragma once

#include "tensoripc/metadata.h"
#include "tensoripc/v1/broker.pb.h"

namespace tensoripc {

v1::PoolMetadata to_proto(const PoolMetadata& md);

// Throws InvalidArgumentError when the wire dtype is not one we know.
PoolMetadata from_proto(const v1::PoolMetadata& md);

}  // namespace tensoripc
