#include "daemon/event_queue.h"

#include <algorithm>
#include <utility>

namespace tensoripc::daemon {

EventQueue::EventQueue(uint32_t keep_last) : keep_last_(std::max<uint32_t>(keep_last, 1)) {}

void EventQueue::drop_oldest_frame() {
  // The oldest frame event is almost always at the front; lifecycle events
  // ahead of it stay where they are, so the order of what is kept holds.
  if (entries_.front().lifecycle == nullptr) {
    entries_.pop_front();  // the common case, without erase's general path
  } else {
    entries_.erase(std::find_if(entries_.begin(), entries_.end(),
                                [](const Entry& e) { return e.lifecycle == nullptr; }));
  }
  --frames_;
  ++dropped_;
}

void EventQueue::push_frame(const FrameStamp& frame) {
  while (frames_ >= capacity()) {
    drop_oldest_frame();
    ++overflowed_;
  }
  entries_.push_back(Entry{frame, nullptr});
  ++frames_;
}

void EventQueue::cap_frames(uint32_t slots) {
  cap_ = slots;
  while (frames_ > capacity()) drop_oldest_frame();
}

bool EventQueue::push_lifecycle(std::shared_ptr<const PoolEvent> event) {
  if (lifecycle_ >= kMaxLifecycleBacklog) return false;
  entries_.push_back(Entry{FrameStamp{}, std::move(event)});
  ++lifecycle_;
  return true;
}

bool EventQueue::pop(StreamEvent* out) {
  if (entries_.empty()) return false;
  Entry& e = entries_.front();
  out->frame = e.frame;
  out->lifecycle = std::move(e.lifecycle);
  entries_.pop_front();
  if (out->lifecycle) {
    --lifecycle_;
  } else {
    --frames_;
  }
  out->dropped = dropped_;
  return true;
}

}  // namespace tensoripc::daemon
