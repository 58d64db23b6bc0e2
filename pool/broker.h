// What the broker says about pools, in plain C++: a producer's claim and its
// grant, the events of a Subscribe stream, and the stats of a query. The
// daemon's registry makes them; the client reads them; proto/wire.h is the
// one translation to and from tensoripc.v1.
//
// Value types; thread-compatible.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "pool/cuda_memory.h"
#include "pool/layout.h"
#include "pool/mapping.h"
#include "pool/ring.h"
#include "tensoripc/daemon.h"
#include "tensoripc/metadata.h"

namespace tensoripc {

// A producer's claim of a pool: what it will publish. Who claims is the
// daemon's to know (the socket's credentials); `pid` is informational.
struct Claim {
  PoolMetadata metadata;
  int32_t pid = 0;
  std::string handback_token;  // memory handed back to a restarted daemon, if any
  CudaMemory cuda;             // a GPU pool's device memory
};

// The answer to a claim.
struct Grant {
  PoolMetadata metadata;  // completed: sizes, shm_name, creator_pid
  Layout layout;
  bool resumed = false;      // an existing pool was re-used: history kept
  uint64_t latest_seq = 0;   // the producer continues from latest_seq + 1
  int32_t producer_pid = 0;  // the producer as the daemon sees it
  // On the wire: what the producer trades for the memory (descriptor channel).
  std::string descriptor_token;
  // In the daemon: the memory the token stands for. Not on the wire.
  std::shared_ptr<const PoolMapping> memory;
};

// A change in a pool's life, for its subscribers.
struct PoolEvent {
  enum class Kind {
    kAttached,      // the pool is there (again): map it
    kWaiting,       // no pool of that name yet
    kProducerGone,  // its producer left
    kRemoved,       // deleted, replaced, or removed by retention
  };
  Kind kind = Kind::kWaiting;
  PoolMetadata metadata;     // kAttached
  Layout layout;             // kAttached
  int32_t producer_pid = 0;  // kAttached: the holder, 0 if none; kProducerGone: who left
  uint64_t latest_seq = 0;   // kAttached
  CudaMemory cuda;           // kAttached, a GPU pool: its device memory
  bool pool_kept = false;    // kProducerGone: the pool stays and can be resumed
  std::string reason;        // kRemoved
  // kAttached, on the wire: per subscriber, what it trades for the memory.
  std::string descriptor_token;
  // kAttached, in the daemon: the memory. Not on the wire.
  std::shared_ptr<const PoolMapping> memory;
};

// One event of a Subscribe stream: a new frame, or a lifecycle event (shared,
// so that one fans out to many subscribers without copies).
struct StreamEvent {
  FrameStamp frame;                            // when lifecycle is null
  std::shared_ptr<const PoolEvent> lifecycle;  // null for a frame event
  uint64_t dropped = 0;                        // frame events dropped for this subscriber so far
  bool is_frame() const { return lifecycle == nullptr; }
};

// A pool as the daemon reports it (ListPools, GetPool); the client turns it
// into the public PoolRecord.
struct PoolRecord {
  PoolMetadata metadata;
  Layout layout;
  PoolStats stats;
  CudaMemory cuda;  // a GPU pool's device memory
};

}  // namespace tensoripc
