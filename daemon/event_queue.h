// One subscriber's outbox: the events waiting to be written to its stream.
//
// Frame events come from the pool's FrameFeed: the queue follows a feed from
// a seq on, and takes each frame announced after it when it is popped (its
// stamp read from the ring then), so a subscriber busy writing costs its
// pool's announce nothing. It keeps at most keep_last of them: when more
// were announced than it keeps, the oldest are dropped and counted. Lifecycle
// events (attached, gone, removed, ...) are queued in order with the frames
// announced before them, and never dropped; a subscriber so stuck that
// kMaxLifecycleBacklog of them pile up is cut off instead (push_lifecycle
// returns false). Every event handed out carries the subscriber's drop total
// so far.
//
// Not thread-safe: its owner (the Subscribe stream's outbox) holds a mutex.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

#include "daemon/frame_feed.h"
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

  // Frame events from now on are `feed`'s frames after `after` (the seq its
  // subscriber already knows of). The frames still pending from the feed
  // followed so far are queued first.
  void follow(std::shared_ptr<FrameFeed> feed, uint64_t after);
  // Queues a frame event itself (tests; and the feed's frames that go ahead
  // of a lifecycle event).
  void push_frame(const FrameStamp& frame);
  // The pool's ring holds `slots` frames: an event for a frame older than
  // that names a frame no one can read any more, so the queue keeps at most
  // min(keep_last, slots) frame events (the oldest beyond it are dropped now,
  // and counted). Set on every attach; 0 lifts the cap.
  void cap_frames(uint32_t slots);
  // Shared so that one lifecycle event fans out to many queues without copies.
  // It goes after every frame the followed feed announced so far (and a
  // kRemoved ends the following). False when the lifecycle backlog is full;
  // the event is not queued.
  bool push_lifecycle(std::shared_ptr<const PoolEvent> event);

  // When the queue has nothing to pop: registers `waiter` with the followed
  // feed for its next announce and returns true (true as well with no feed:
  // there is nothing to wait on, and a lifecycle event comes by its pusher;
  // and when it is registered already: the wake-up comes). False when there
  // is something to pop after all (announced meanwhile).
  // Frames announced beyond what it keeps by the time it first looks again
  // (fell_behind, pop) are then dropped but not counted as overflowed: the
  // subscriber was waiting, the daemon was late.
  bool wait_for_frames(const std::weak_ptr<FrameFeed::Waiter>& waiter);
  // The waiter's frames_announced() came: its registration is used up.
  void woken() { registered_ = false; }

  // Moves the next event into `out`, with `dropped` set to the total so far.
  // False when the queue is empty, or every frame announced since the last
  // pop was overwritten in the ring before it could be read (counted).
  bool pop(StreamEvent* out);

  // Nothing queued and nothing announced that it has not taken.
  bool empty() const { return entries_.empty() && feed_pending() == 0; }
  // The frame events it keeps: keep_last, or fewer when the ring is smaller,
  // and kMaxQueuedFrames at most.
  uint32_t keep_last() const { return capacity(); }
  // Frames this subscriber got no event for, those announced beyond what it
  // keeps included.
  uint64_t dropped() const { return dropped_ + pending_excess(); }
  // Of those, the frames it lost by taking events more slowly than the pool
  // made them: dropped because more were announced than it keeps, or
  // overwritten in the ring before it took them. (Not those that were
  // already lost when it first looked after waiting for frames: the daemon
  // was late, not the subscriber. Nor those beyond a smaller ring's cap.)
  uint64_t overflowed() {
    take_announced();
    return overflowed_;
  }
  // Whether the queue overflowed since the last call: the subscriber falls
  // behind its pool, and its next write waits for a lagging turn
  // (WriteGate::acquire_lagging).
  bool fell_behind() {
    take_announced();
    const bool behind = overflowed_ > judged_;
    judged_ = overflowed_;
    return behind;
  }
  uint64_t queued_frames() const {
    const uint64_t all = frames_ + feed_pending();  // no wrap: frames_ <= 1024
    return std::min<uint64_t>(all, capacity());
  }

 private:
  uint32_t capacity() const {
    const uint32_t keep = std::min(keep_last_, kMaxQueuedFrames);
    return cap_ != 0 && cap_ < keep ? cap_ : keep;
  }
  void drop_oldest_frame();
  // Frames the followed feed announced past cursor_.
  uint64_t feed_pending() const {
    if (!feed_) return 0;
    const uint64_t announced = feed_->announced();
    return announced > cursor_ ? announced - cursor_ : 0;
  }
  // Of the frames queued and pending, how many are beyond what it keeps.
  uint64_t pending_excess() const;
  // Queues the frames the followed feed announced so far as frame events,
  // ahead of what comes next (a lifecycle event, another feed).
  void queue_announced();
  // Drops what is beyond what it keeps (the oldest first: queued frame
  // events, then the feed's), counted. Returns the feed's announced seq it
  // judged by (cursor_ when there is no feed); `waited`, when given, says
  // whether this was the first look since it waited for frames.
  uint64_t take_announced(bool* waited = nullptr);
  // A frame overwritten in the ring before it was taken.
  void lose_frame(bool waited);

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

  std::shared_ptr<FrameFeed> feed_;  // null until the pool is attached, or lifecycle only
  uint64_t cursor_ = 0;              // the last of feed_'s frames taken (or dropped)
  bool registered_ = false;  // with feed_, to wait: the waiter's wake-up has not come
  bool idle_ = false;  // registered with feed_ to wait, and not looked since it announced
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
