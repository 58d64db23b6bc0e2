#include "daemon/event_queue.h"

#include <algorithm>
#include <utility>

namespace tensoripc::daemon {

EventQueue::EventQueue(uint32_t keep_last) : keep_last_(std::max<uint32_t>(keep_last, 1)) {}

void EventQueue::Ring::push_back(Entry e) {
  if (size_ == slots_.size()) {
    std::vector<Entry> grown(slots_.empty() ? 8 : 2 * slots_.size());
    for (size_t i = 0; i < size_; ++i) grown[i] = std::move(at(i));
    slots_ = std::move(grown);
    head_ = 0;
  }
  slots_[(head_ + size_) & (slots_.size() - 1)] = std::move(e);
  ++size_;
}

void EventQueue::Ring::pop_front() {
  slots_[head_] = Entry{};  // lets go of a lifecycle event now
  head_ = (head_ + 1) & (slots_.size() - 1);
  --size_;
}

void EventQueue::Ring::erase(size_t i) {
  for (; i > 0; --i) at(i) = std::move(at(i - 1));
  pop_front();
}

void EventQueue::drop_oldest_frame() {
  // The oldest frame event is almost always at the front; lifecycle events
  // ahead of it stay where they are, so the order of what is kept holds.
  size_t i = 0;
  while (entries_.at(i).lifecycle != nullptr) ++i;  // frames_ > 0: one exists
  entries_.erase(i);
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
