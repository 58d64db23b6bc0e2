// The frame ring in a mapped pool: the seqlock protocol on its slots, the
// producer's write, the consumers' consistent reads, and waiting for a frame
// on the pool's futex word.
//
// A slot's `lock` counter is odd while its one writer (the lease holder)
// copies a frame in; a reader takes the counter before reading and checks it
// after, and retries or gives up when it moved. No function here takes a lock
// or waits on another process without a bound: a slot left mid-write by a
// producer that died reads as a lost frame (zeros, seq 0) after a bounded
// wait, never as a torn one and never as a hang.
#pragma once

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>

#include "common/clock.h"
#include "common/futex.h"
#include "pool/layout.h"
#include "pool/mapping.h"

namespace tensoripc {

// One frame's place in the ring: its sequence number (monotonic from 1 over
// the pool's life), its slot (seq % history_len) and its CLOCK_REALTIME stamp.
// What a consumer's frame event carries.
struct FrameStamp {
  uint64_t seq = 0;
  uint64_t slot = 0;
  int64_t timestamp_ns = 0;
};

// ---- the seqlock on one slot

// Starts a write: the counter goes odd. Single writer only.
inline uint64_t slot_write_begin(SlotHeader& slot) {
  uint64_t v = slot.lock.load(std::memory_order_relaxed);
  v += (v & 1) ? 1 : 0;  // a writer that died mid-write left it odd: move past it
  slot.lock.store(v + 1, std::memory_order_relaxed);
  std::atomic_thread_fence(std::memory_order_release);
  return v + 1;
}

// Ends a write started by slot_write_begin: publishes frame_seq, the stamp
// and the counter.
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

// Where a pool's frames are when they are not in its mapping: a GPU pool's
// device memory (the client's DeviceFrameSource). The ring's reads copy
// through it under the same seqlock; each copy must be complete when it
// returns, so that the slot checked after it vouches for what was copied.
// Errors are thrown.
class FrameSource {
 public:
  virtual ~FrameSource() = default;
  // Frame `slot` (frame_size bytes) to `dst`.
  virtual void copy_out(uint64_t slot, void* dst) const = 0;
  // `bytes` of zeros at `dst` (a frame lost or never written).
  virtual void zero(void* dst, uint64_t bytes) const = 0;
};

// ---- the producer

// Writes frame `seq` into slot seq % slot_count: under the slot's seqlock,
// `fill(slot)` puts the data there (a GPU pool's copy and event record); then
// the frame is published (latest_seq = seq, release) and futex waiters woken.
// If fill returns false the write is abandoned: the slot's old frame reads as
// lost, nothing is published, and the returned stamp has seq 0.
template <typename Fill>
FrameStamp write_frame_with(const PoolMapping& mapping, uint64_t seq, Fill&& fill);

// Writes mapping.frame_size() bytes from `src` (null: the slot's data is left
// as it is) as frame `seq` into slot seq % slot_count, publishes it
// (latest_seq = seq, release) and wakes futex waiters if any are counted.
// Single writer: the lease holder.
FrameStamp write_frame(const PoolMapping& mapping, uint64_t seq, const void* src);

// The next frame: latest_seq + 1.
inline FrameStamp write_next_frame(const PoolMapping& mapping, const void* src) {
  return write_frame(mapping, mapping.header().latest_seq.load(std::memory_order_relaxed) + 1, src);
}

// ---- consumers

enum class ReadStatus {
  kOk,           // the frame was copied and is exactly frame `seq`
  kOverwritten,  // the producer has replaced it with a newer frame
  kLost,         // never completed: its writer died mid-write (or never wrote it)
};

// Copies frame `seq` into `dst` (frame_size bytes) if it is still in the ring,
// and its timestamp into *timestamp_ns (if not null), both under the slot's
// seqlock. A null `dst` reads the timestamp (and whether the frame is still
// there) without copying the data. On kLost `dst` is zero-filled.
ReadStatus read_frame(const PoolMapping& mapping, uint64_t seq, void* dst, int64_t* timestamp_ns,
                      const FrameSource* source = nullptr);

// Reads the last `count` frames (count <= slot_count) into `dst`
// (count * frame_size bytes), latest first or oldest first. A consistent
// snapshot of consecutive frames: if the producer overwrites one meanwhile the
// read starts again from the new latest. Frames never written, or lost, are
// zeros with seq 0. `seqs` and `timestamps_ns` (count entries each) may be
// null. Returns the latest seq the snapshot ends at; 0 (and nothing written)
// when the pool holds no frame yet. Bounded: waits and restarts together
// stop after 50 ms + 2 ms per MB of frame; frames still unread then (a
// producer lapping the reader, or stalled mid-write) read as lost.
// With a `source`, the frames come from it (a GPU pool) and `dst` is
// wherever it can copy to.
uint64_t read_history(const PoolMapping& mapping, size_t count, bool latest_first, void* dst,
                      uint64_t* seqs, int64_t* timestamps_ns,
                      const FrameSource* source = nullptr);

// Where a zero-copy view of the latest frame points.
struct LatestFrame {
  FrameStamp frame;   // frame.seq 0: no frame (yet, or lost)
  uint64_t lock = 0;  // the slot's seqlock counter while the frame was there
};
LatestFrame locate_latest(const PoolMapping& mapping);

// True while the slot still holds the frame locate_latest() found; data read
// from it before a true answer was that frame.
inline bool still_holds(const SlotHeader& slot, uint64_t lock) {
  return slot_read_valid(slot, lock);
}

// Blocks on the pool's futex until latest_seq > `after`, `timeout` passes or
// `*stop` (if given) is set and the waiter woken (wake_waiters). Writes
// nothing: the producer wakes the word while header.futex_waiters is raised,
// which the daemon keeps so while the pool has subscribers. Returns latest_seq.
uint64_t wait_for_seq_after(const PoolMapping& mapping, uint64_t after,
                            std::chrono::nanoseconds timeout,
                            const std::atomic<bool>* stop = nullptr);

// Wakes this pool's futex waiters whether or not a frame came (used to stop
// a waiting thread; other waiters see no new frame and sleep again). From a
// consumer's read-only mapping the word cannot be bumped, so a waiter between
// its last check and its sleep misses this wake-up: stop waiters with a flag
// and wake until they are gone (or let their timeout end the wait).
void wake_waiters(const PoolMapping& mapping);

// ---- implementation

// latest_seq = seq (release), then one wake of the pool's futex word when
// anyone waits on it. The end of every write.
inline void publish_frame(const PoolMapping& mapping, uint64_t seq) {
  PoolHeader& h = mapping.header();
  h.latest_seq.store(seq, std::memory_order_release);
  futex_signal(h.futex_word, h.futex_waiters);
}

template <typename Fill>
FrameStamp write_frame_with(const PoolMapping& mapping, uint64_t seq, Fill&& fill) {
  FrameStamp w;
  w.slot = seq % mapping.slot_count();
  SlotHeader& slot = mapping.slot(w.slot);
  const uint64_t odd = slot_write_begin(slot);
  if (!fill(w.slot)) {
    slot_write_end(slot, odd, 0, 0);  // the old frame is gone; no new one
    return FrameStamp{0, w.slot, 0};
  }
  w.seq = seq;
  w.timestamp_ns = realtime_ns();
  slot_write_end(slot, odd, w.seq, w.timestamp_ns);
  publish_frame(mapping, seq);
  return w;
}

}  // namespace tensoripc
