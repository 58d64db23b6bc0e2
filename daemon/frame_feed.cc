#include "daemon/frame_feed.h"

#include <algorithm>
#include <utility>

namespace tensoripc::daemon {

void FrameFeed::announce(uint64_t latest) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (latest <= announced_.load(std::memory_order_relaxed)) return;
    // Under mu_: a waiter that registered saw the old value, so it is in
    // waiting_ and woken below; one that comes after sees the new one.
    announced_.store(latest, std::memory_order_release);
    waking_.swap(waiting_);
  }
  for (const std::weak_ptr<Waiter>& w : waking_) {
    if (std::shared_ptr<Waiter> waiter = w.lock()) waiter->frames_announced();
  }
  waking_.clear();
}

bool FrameFeed::wait(std::weak_ptr<Waiter> waiter, uint64_t after) {
  std::lock_guard<std::mutex> lock(mu_);
  if (announced_.load(std::memory_order_relaxed) > after) return false;
  if (waiting_.size() >= prune_at_) {
    // Amortised: the list at least doubles between two prunes.
    waiting_.erase(std::remove_if(waiting_.begin(), waiting_.end(),
                                  [](const std::weak_ptr<Waiter>& w) { return w.expired(); }),
                   waiting_.end());
    prune_at_ = std::max(kPruneAtLeast, 2 * waiting_.size());
  }
  waiting_.push_back(std::move(waiter));
  return true;
}

size_t FrameFeed::waiting() const {
  std::lock_guard<std::mutex> lock(mu_);
  return waiting_.size();
}

bool FrameFeed::stamp(uint64_t seq, FrameStamp* out) const {
  int64_t ts = 0;
  if (read_frame(*segment_, seq, nullptr, &ts) != ReadStatus::kOk) return false;
  *out = FrameStamp{seq, seq % segment_->slot_count(), ts};
  return true;
}

}  // namespace tensoripc::daemon
