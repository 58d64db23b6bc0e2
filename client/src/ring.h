// The frame ring in a mapped pool: the producer's seqlock write and the
// consumers' lock-free reads (DESIGN.md, "How a frame travels").
//
// No function here takes a lock or waits on another process without a bound:
// a slot left mid-write by a producer that died reads as a lost frame (zeros,
// seq 0) after a bounded wait, never as a torn one and never as a hang.
#pragma once

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>

#include "pool_mapping.h"

namespace tensoripc {

struct WrittenFrame {
  uint64_t seq = 0;
  uint64_t slot = 0;
  int64_t timestamp_ns = 0;
};

// Writes one frame of mapping.frame_size() bytes as sequence number
// latest_seq + 1, publishes it (latest_seq, release) and wakes futex waiters
// if any registered. Single writer: the lease holder.
WrittenFrame write_frame(const PoolMapping& mapping, const void* src);

enum class ReadStatus {
  kOk,           // the frame was copied and is exactly frame `seq`
  kOverwritten,  // the producer has replaced it with a newer frame
  kLost,         // never completed: its writer died mid-write (or never wrote it)
};

// Copies frame `seq` into `dst` (frame_size bytes) if it is still in the ring,
// and its timestamp into *timestamp_ns (if not null), both under the slot's
// seqlock. A null `dst` reads the timestamp (and whether the frame is still
// there) without copying the data. On kLost `dst` is zero-filled.
ReadStatus read_frame(const PoolMapping& mapping, uint64_t seq, void* dst, int64_t* timestamp_ns);

// Reads the last `count` frames (count <= slot_count) into `dst`
// (count * frame_size bytes), latest first or oldest first. A consistent
// snapshot of consecutive frames: if the producer overwrites one meanwhile the
// read starts again from the new latest. Frames never written, or lost, are
// zeros with seq 0. `seqs` and `timestamps_ns` (count entries each) may be
// null. Returns the latest seq the snapshot ends at; 0 (and nothing written)
// when the pool holds no frame yet. Bounded: waits and restarts together
// stop after 50 ms + 2 ms per MB of frame; frames still unread then (a
// producer lapping the reader, or stalled mid-write) read as lost.
uint64_t read_history(const PoolMapping& mapping, size_t count, bool latest_first, void* dst,
                      uint64_t* seqs, int64_t* timestamps_ns);

// Where a zero-copy view of the latest frame points.
struct LatestFrame {
  uint64_t seq = 0;  // 0: no frame (yet, or lost)
  uint64_t slot = 0;
  uint64_t lock = 0;  // the slot's seqlock counter while the frame was there
  int64_t timestamp_ns = 0;
};
LatestFrame locate_latest(const PoolMapping& mapping);

// True while the slot still holds the frame locate_latest() found; data read
// from it before a true answer was that frame.
inline bool still_holds(const SlotHeader& slot, uint64_t lock) {
  return slot_read_valid(slot, lock);
}

// Blocks on the pool's futex until latest_seq > `after`, `timeout` passes or
// `*stop` (if given) is set and the waiter woken (wake_waiters). Registers as
// a waiter so the producer knows to wake. Returns latest_seq.
uint64_t wait_for_seq_after(const PoolMapping& mapping, uint64_t after,
                            std::chrono::nanoseconds timeout,
                            const std::atomic<bool>* stop = nullptr);

// Wakes this process's futex waiters on the pool (used to stop a waiting
// thread; other waiters see no new frame and sleep again).
void wake_waiters(const PoolMapping& mapping);

// Whether `pid` is a live process (not gone, not a zombie). Slow path only.
bool process_alive(int pid);

// Makes the calling thread yield to others (nice +5): for the library's
// background threads whose work is not the latency-critical path.
void lower_thread_priority();

}  // namespace tensoripc
