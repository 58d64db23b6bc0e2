#include "daemon/event_queue.h"

#include <algorithm>
#include <utility>

namespace tensoripc::daemon {

StatusOr<uint32_t> effective_keep_last(uint32_t requested) {
  if (requested == 0) return kDefaultKeepLast;
  if (requested > kMaxKeepLast) {
    return invalid_argument("keep_last is " + std::to_string(requested) + "; it must be 0 (for " +
                            std::to_string(kDefaultKeepLast) + ") to " +
                            std::to_string(kMaxKeepLast));
  }
  return requested;
}

EventQueue::EventQueue(uint32_t keep_last) : keep_last_(std::max<uint32_t>(keep_last, 1)) {}

void EventQueue::push_frame(const FrameNotice& frame) {
  if (frames_ == keep_last_) {
    // The oldest frame event is almost always at the front; lifecycle events
    // ahead of it stay where they are, so the order of what is kept holds.
    auto oldest = std::find_if(entries_.begin(), entries_.end(),
                               [](const Entry& e) { return e.lifecycle == nullptr; });
    entries_.erase(oldest);
    --frames_;
    ++dropped_;
  }
  entries_.push_back(Entry{frame, nullptr});
  ++frames_;
}

bool EventQueue::push_lifecycle(std::shared_ptr<const v1::SubscribeEvent> event) {
  if (lifecycle_ >= kMaxLifecycleBacklog) return false;
  entries_.push_back(Entry{FrameNotice{}, std::move(event)});
  ++lifecycle_;
  return true;
}

bool EventQueue::pop(v1::SubscribeEvent* out, bool* is_frame) {
  if (entries_.empty()) return false;
  Entry e = std::move(entries_.front());
  entries_.pop_front();
  if (e.lifecycle) {
    *out = *e.lifecycle;
    --lifecycle_;
    *is_frame = false;
  } else {
    out->Clear();
    v1::FrameEvent* f = out->mutable_frame();
    f->set_seq(e.frame.seq);
    f->set_slot(e.frame.slot);
    f->set_timestamp_ns(e.frame.timestamp_ns);
    --frames_;
    *is_frame = true;
  }
  out->set_dropped(dropped_);
  return true;
}

}  // namespace tensoripc::daemon
