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

#include <cstddef>
#include <cstdint>
#include <deque>
#include <memory>

#include "common/status.h"
#include "tensoripc/v1/broker.pb.h"

namespace tensoripc::daemon {

inline constexpr uint32_t kDefaultKeepLast = 10;
inline constexpr uint32_t kMaxKeepLast = 65536;
inline constexpr size_t kMaxLifecycleBacklog = 1024;

// keep_last as asked in a SubscribeRequest: 0 means kDefaultKeepLast; over
// kMaxKeepLast is INVALID_ARGUMENT.
StatusOr<uint32_t> effective_keep_last(uint32_t requested);

struct FrameNotice {
  uint64_t seq = 0;
  uint32_t slot = 0;
  int64_t timestamp_ns = 0;
};

class EventQueue {
 public:
  explicit EventQueue(uint32_t keep_last);

  void push_frame(const FrameNotice& frame);
  // Shared so that one lifecycle event fans out to many queues without copies.
  // False when the lifecycle backlog is full; the event is not queued.
  bool push_lifecycle(std::shared_ptr<const v1::SubscribeEvent> event);

  // Moves the next event into `out`, its `dropped` set to the total so far.
  // False when the queue is empty. `is_frame` says which kind it was.
  bool pop(v1::SubscribeEvent* out, bool* is_frame);

  bool empty() const { return entries_.empty(); }
  uint32_t keep_last() const { return keep_last_; }
  uint64_t dropped() const { return dropped_; }
  uint64_t queued_frames() const { return frames_; }

 private:
  struct Entry {
    FrameNotice frame;
    std::shared_ptr<const v1::SubscribeEvent> lifecycle;  // null for a frame event
  };

  uint32_t keep_last_;
  std::deque<Entry> entries_;
  uint64_t frames_ = 0;
  uint64_t lifecycle_ = 0;
  uint64_t dropped_ = 0;
};

}  // namespace tensoripc::daemon
