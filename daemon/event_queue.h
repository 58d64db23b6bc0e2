// One subscriber's outbox: the events waiting to be written to its stream.
//
// Frame events are bounded by the subscriber's keep_last: when the queue
// already holds keep_last of them, the oldest frame event is dropped and
// counted. Lifecycle events (attached, gone, removed, ...) are never dropped;
// a subscriber so stuck that kMaxLifecycleBacklog of them pile up is cut off
// instead (push_lifecycle returns false). Every event handed out carries the
// subscriber's drop total so far.
//
// Not thread-safe: its owner (the Subscribe stream's outbox) holds a mutex.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

#include "pool/broker.h"
#include "pool/ring.h"

namespace tensoripc::daemon {

inline constexpr size_t kMaxLifecycleBacklog = 1024;
// The most frame events queued for one subscriber, whatever its keep_last:
// the ring holds the frames themselves, and the client library fills a gap
// in the events from it, so a deeper queue would only cost the daemon
// memory (40 bytes an event; 4096 streams x 1024 = 160 MiB at most).
inline constexpr uint32_t kMaxQueuedFrames = 1024;

class EventQueue {
 public:
  explicit EventQueue(uint32_t keep_last);

  void push_frame(const FrameStamp& frame);
  // The pool's ring holds `slots` frames: an event for a frame older than
  // that names a frame no one can read any more, so the queue keeps at most
  // min(keep_last, slots) frame events (the oldest beyond it are dropped now,
  // and counted). Set on every attach; 0 lifts the cap.
  void cap_frames(uint32_t slots);
  // Frames this subscriber will never get an event for (overwritten in the
  // ring before the daemon announced them).
  void count_dropped(uint64_t n) { dropped_ += n; }
  // Shared so that one lifecycle event fans out to many queues without copies.
  // False when the lifecycle backlog is full; the event is not queued.
  bool push_lifecycle(std::shared_ptr<const PoolEvent> event);

  // Moves the next event into `out`, with `dropped` set to the total so far.
  // False when the queue is empty.
  bool pop(StreamEvent* out);

  bool empty() const { return entries_.empty(); }
  // The frame events it keeps: keep_last, or fewer when the ring is smaller,
  // and kMaxQueuedFrames at most.
  uint32_t keep_last() const { return capacity(); }
  uint64_t dropped() const { return dropped_; }
  // Of those, the frames dropped because the queue was full when a newer
  // one came: the subscriber took events more slowly than the pool made
  // them. (Not the frames the daemon itself announced late, nor those
  // beyond a smaller ring's cap.)
  uint64_t overflowed() const { return overflowed_; }
  // Whether the queue overflowed since the last call: the subscriber falls
  // behind its pool, and its next write waits for a lagging turn
  // (WriteGate::acquire_lagging).
  bool fell_behind() {
    const bool behind = overflowed_ > judged_;
    judged_ = overflowed_;
    return behind;
  }
  uint64_t queued_frames() const { return frames_; }

 private:
  uint32_t capacity() const {
    const uint32_t keep = std::min(keep_last_, kMaxQueuedFrames);
    return cap_ != 0 && cap_ < keep ? cap_ : keep;
  }
  void drop_oldest_frame();

  struct Entry {
    FrameStamp frame;
    std::shared_ptr<const PoolEvent> lifecycle;  // null for a frame event
  };

  // A FIFO in one circular buffer that grows to a power of two and never
  // shrinks while the queue lives: a subscriber's steady drop-oldest,
  // push-newest churn allocates nothing (std::deque freed and allocated a
  // block every dozen events, 2000 streams at 1 kHz kept malloc and the
  // page tables busy). It holds at most kMaxQueuedFrames +
  // kMaxLifecycleBacklog entries, so 2048 slots at most.
  class Ring {
   public:
    bool empty() const { return size_ == 0; }
    Entry& at(size_t i) { return slots_[(head_ + i) & (slots_.size() - 1)]; }
    Entry& front() { return slots_[head_]; }
    void push_back(Entry e);
    void pop_front();
    // Removes entry i, keeping the order of the others.
    void erase(size_t i);

   private:
    std::vector<Entry> slots_;  // a power of two in size, or empty
    size_t head_ = 0;
    size_t size_ = 0;
  };

  uint32_t keep_last_;
  uint32_t cap_ = 0;  // the ring's size, 0 when none is known
  Ring entries_;
  uint64_t frames_ = 0;
  uint64_t lifecycle_ = 0;
  uint64_t dropped_ = 0;
  uint64_t overflowed_ = 0;
  uint64_t judged_ = 0;  // overflowed_ as of the last fell_behind()
};

}  // namespace tensoripc::daemon
