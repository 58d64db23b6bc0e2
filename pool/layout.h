// The shared-memory layout of a pool: one segment per pool, created by the
// daemon, mapped by the producer and the consumers.
//
//   [0, 4096)                    PoolHeader: identity, geometry, latest_seq, futex word
//   [slots_offset, +64*H)        SlotHeader[H], one cache line each
//   [data_offset, +stride*H)     frames (host pools only; GPU pools keep them on the GPU)
//
// The daemon creates and initialises a segment (the file starts zeroed, so
// frames never written read as zeros); the one producer holding the lease
// writes slots (pool/ring.h has the protocol); any number of consumers read.
// These are plain data: the structs live in shared memory, and their layout
// is part of the on-disk format (kLayoutVersion).
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <string>

#include "common/status.h"
#include "pool/model.h"
#include "tensoripc/metadata.h"
#include "tensoripc/tensor.h"

namespace tensoripc {

inline constexpr uint64_t kPoolMagic = 0x4c4f4f5043504954ULL;  // "TIPCPOOL"
inline constexpr uint32_t kLayoutVersion = 1;
inline constexpr size_t kHeaderSize = 4096;
inline constexpr size_t kSlotHeaderSize = 64;
inline constexpr size_t kPageSize = 4096;
inline constexpr size_t kSmallFrameAlign = 64;

// Enough of the metadata to adopt a segment after a daemon restart.
struct IdentityRecord {
  char name[136];
  char dtype[24];
  char device[24];
  char backend[24];
  uint32_t ndim;
  uint32_t history_len;
  int64_t shape[kMaxDims];
};
static_assert(kMaxDims == 32, "IdentityRecord is part of layout version 1");

struct PoolHeader {
  std::atomic<uint64_t> magic;  // written last, with release, by the daemon
  uint32_t layout_version;
  uint32_t header_size;
  uint64_t generation;
  uint64_t identity_digest;
  uint64_t frame_size;
  uint64_t slot_stride;
  uint32_t slot_count;
  uint32_t memory_kind;  // 1 host, 2 CUDA (the numbers of the wire's MemoryKind)
  uint64_t slots_offset;
  uint64_t data_offset;
  uint64_t segment_size;
  int64_t created_unix_ns;
  IdentityRecord identity;

  // Hot, written by the producer: its own cache line.
  alignas(64) std::atomic<uint64_t> latest_seq;
  // Bumped after every publish; futex waiters sleep on it (common/futex.h).
  alignas(64) std::atomic<uint32_t> futex_word;
  std::atomic<uint32_t> futex_waiters;
  // The lease holder, 0 when none; set by the producer, cleared by the daemon.
  std::atomic<int32_t> producer_pid;
};

struct alignas(64) SlotHeader {
  std::atomic<uint64_t> lock;       // seqlock: odd while a write is in progress
  std::atomic<uint64_t> frame_seq;  // seq of the frame in the slot; 0 = none
  std::atomic<int64_t> timestamp_ns;
};

static_assert(sizeof(PoolHeader) <= kHeaderSize, "header must fit its page");
static_assert(sizeof(SlotHeader) == kSlotHeaderSize, "one cache line per slot");
static_assert(std::atomic<uint64_t>::is_always_lock_free, "shared atomics must be lock-free");
static_assert(std::atomic<uint32_t>::is_always_lock_free, "shared atomics must be lock-free");

// Where a pool's pieces are: its segment (name and generation, given by the
// daemon) and the geometry inside it (computed from the metadata).
struct Layout {
  std::string shm_name;     // for shm_open, with the leading '/'
  uint64_t generation = 0;  // changes whenever the segment is created anew
  uint64_t frame_size = 0;
  uint64_t slot_stride = 0;
  uint32_t slot_count = 0;
  uint64_t slots_offset = 0;
  uint64_t data_offset = 0;
  uint64_t data_size = 0;     // stride * slot_count
  uint64_t segment_size = 0;  // what the shm file holds (no data region for GPU pools)
  MemoryKind memory_kind = MemoryKind::kHost;
};

// Geometry for a validated metadata (shm_name and generation left empty).
// Frames of a page or more are page-aligned (memcpy and DMA like it);
// smaller ones are cache-line aligned.
Layout compute_layout(const PoolMetadata& md);

// Whether two layouts have the same geometry (name and generation aside).
bool same_geometry(const Layout& a, const Layout& b);

// Fills a zeroed mapping of layout.segment_size bytes; publishes magic last.
void init_header(void* base, const Layout& layout, const PoolMetadata& md, uint64_t generation,
                 int64_t created_unix_ns);

// Checks a mapped segment of `mapped_size` bytes before anyone trusts it:
// magic, version, geometry consistent with the file and with itself.
Status check_header(const void* base, size_t mapped_size);

// Metadata recorded in a checked header (completed; shm_name left empty).
PoolMetadata metadata_from_header(const PoolHeader& header);

inline PoolHeader* header_of(void* base) { return static_cast<PoolHeader*>(base); }
inline SlotHeader* slots_of(void* base, const Layout& l) {
  return reinterpret_cast<SlotHeader*>(static_cast<char*>(base) + l.slots_offset);
}

}  // namespace tensoripc
