// The shared-memory layout of a pool, and the seqlock protocol on its slots.
//
//   [0, 4096)                    PoolHeader: identity, geometry, latest_seq, futex word
//   [slots_offset, +64*H)        SlotHeader[H], one cache line each
//   [data_offset, +stride*H)     frames (host pools only; GPU pools keep them on the GPU)
//
// The daemon creates and initialises a segment (the file starts zeroed, so
// frames never written read as zeros); the one producer holding the lease
// writes slots; any number of consumers read. No lock is ever held across
// processes: a writer killed mid-write leaves one slot's counter odd, which
// readers treat as "frame lost", never as something to wait for forever.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>

#include "common/status.h"
#include "tensoripc/v1/broker.pb.h"

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
  int64_t shape[32];
};

struct PoolHeader {
  std::atomic<uint64_t> magic;  // written last, with release, by the daemon
  uint32_t layout_version;
  uint32_t header_size;
  uint64_t generation;
  uint64_t identity_digest;
  uint64_t frame_size;
  uint64_t slot_stride;
  uint32_t slot_count;
  uint32_t memory_kind;  // v1::MemoryKind
  uint64_t slots_offset;
  uint64_t data_offset;
  uint64_t segment_size;
  int64_t created_unix_ns;
  IdentityRecord identity;

  // Hot, written by the producer: its own cache line.
  alignas(64) std::atomic<uint64_t> latest_seq;
  // Bumped after every publish; futex waiters sleep on it.
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

// Geometry of a pool; what v1::PoolLayout carries on the wire.
struct Layout {
  uint64_t frame_size = 0;
  uint64_t slot_stride = 0;
  uint32_t slot_count = 0;
  uint64_t slots_offset = 0;
  uint64_t data_offset = 0;
  uint64_t data_size = 0;     // stride * slot_count
  uint64_t segment_size = 0;  // what the shm file holds (no data region for GPU pools)
  v1::MemoryKind memory_kind = v1::MEMORY_KIND_HOST;
};

// Geometry for a validated metadata. Frames of a page or more are page-aligned
// (memcpy and DMA like it); smaller ones are cache-line aligned.
Layout compute_layout(const v1::PoolMetadata& md);

void to_proto(const Layout& layout, v1::PoolLayout* out);

// Fills a zeroed mapping of layout.segment_size bytes; publishes magic last.
void init_header(void* base, const Layout& layout, const v1::PoolMetadata& md,
                 uint64_t generation, int64_t created_unix_ns);

// Checks a mapped segment of `mapped_size` bytes before anyone trusts it:
// magic, version, geometry consistent with the file and with itself.
Status check_header(const void* base, size_t mapped_size);

// Metadata recorded in a checked header (for adoption after a restart).
v1::PoolMetadata metadata_from_header(const PoolHeader& header);

inline PoolHeader* header_of(void* base) { return static_cast<PoolHeader*>(base); }
inline SlotHeader* slots_of(void* base, const Layout& l) {
  return reinterpret_cast<SlotHeader*>(static_cast<char*>(base) + l.slots_offset);
}

// ---- seqlock protocol, used by the producer (write) and consumers (read)

// Starts writing `seq` into `slot`: counter goes odd. Single writer only.
inline uint64_t slot_write_begin(SlotHeader& slot) {
  uint64_t v = slot.lock.load(std::memory_order_relaxed);
  v += (v & 1) ? 1 : 0;  // a writer that died mid-write left it odd: move past it
  slot.lock.store(v + 1, std::memory_order_relaxed);
  std::atomic_thread_fence(std::memory_order_release);
  return v + 1;
}

// Ends a write started by slot_write_begin: publishes frame_seq and the counter.
inline void slot_write_end(SlotHeader& slot, uint64_t odd, uint64_t seq, int64_t ts_ns) {
  slot.frame_seq.store(seq, std::memory_order_relaxed);
  slot.timestamp_ns.store(ts_ns, std::memory_order_relaxed);
  slot.lock.store(odd + 1, std::memory_order_release);
}

// Reader side: take the counter before reading, validate after.
inline uint64_t slot_read_begin(const SlotHeader& slot) {
  return slot.lock.load(std::memory_order_acquire);
}
inline bool slot_read_valid(const SlotHeader& slot, uint64_t begin) {
  std::atomic_thread_fence(std::memory_order_acquire);
  return (begin & 1) == 0 && slot.lock.load(std::memory_order_relaxed) == begin;
}

}  // namespace tensoripc
