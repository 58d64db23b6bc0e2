// A pool's announced frames, for its subscribers to take at their own pace.
//
// The registry announces a pool's new frames by moving the feed's
// `announced()` seq on; it touches no subscriber for that, except those
// waiting for frames (their queue ran dry), which it wakes. A subscriber
// that is busy writing takes the frames it missed from the feed when its
// write ends: the newest it may keep, each frame's stamp read from the
// pool's ring then (a frame overwritten meanwhile is counted, never
// announced). So announcing a frame costs O(subscribers waiting for one),
// not O(subscribers): 2,000 streams that do not read cost nothing per frame
// (they locked and queued 2 M events a second at 1 kHz before).
//
// Thread-safe. announce() is the registry's, with the pool's fan-out mutex
// held (one announcer at a time); it calls Waiter::frames_announced with no
// lock of the feed held. wait() may be called with a subscriber's own mutex
// held (lock order: subscriber, then feed).
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <vector>

#include "pool/mapping.h"
#include "pool/ring.h"

namespace tensoripc::daemon {

class FrameFeed {
 public:
  // Something that waits for frames: a subscriber's outbox.
  class Waiter {
   public:
    virtual ~Waiter() = default;
    // Frames newer than the seq it waited after were announced. Runs on the
    // announcing thread; must not block nor call announce().
    virtual void frames_announced() = 0;
  };

  // `announced`: the seq announced so far (frames up to it are nobody's news).
  FrameFeed(std::shared_ptr<const PoolMapping> segment, uint64_t announced)
      : segment_(std::move(segment)), announced_(announced) {}
  FrameFeed(const FrameFeed&) = delete;
  FrameFeed& operator=(const FrameFeed&) = delete;

  // The newest frame announced.
  uint64_t announced() const { return announced_.load(std::memory_order_acquire); }

  // Announces the frames up to `latest` (never backwards) and wakes every
  // waiter. The registry's: one caller at a time.
  void announce(uint64_t latest);

  // Registers `waiter` for the next announce, unless a frame newer than
  // `after` is already announced (then false: take it now). A waiter is
  // woken once per registration; a waiter gone by then is skipped. Waiters
  // gone before any announce are forgotten as more register (a pool whose
  // producer publishes nothing, and subscribers that come and go: each
  // forgotten entry held its outbox's memory).
  bool wait(std::weak_ptr<Waiter> waiter, uint64_t after);
  // Registrations waiting for the next announce: what it will wake (gone
  // waiters included until pruned). The registry judges by it where to
  // announce.
  size_t waiting() const;

  // Frame `seq`'s stamp, read from the ring under its slot's seqlock. False
  // when the ring no longer holds it (overwritten), or the producer is
  // writing it this instant.
  bool stamp(uint64_t seq, FrameStamp* out) const;

 private:
  const std::shared_ptr<const PoolMapping> segment_;
  std::atomic<uint64_t> announced_;
  static constexpr size_t kPruneAtLeast = 64;
  mutable std::mutex mu_;                       // guards waiting_ and announced_'s stores
  std::vector<std::weak_ptr<Waiter>> waiting_;  // to wake at the next announce
  size_t prune_at_ = kPruneAtLeast;             // waiting_'s size that prunes the gone
  std::vector<std::weak_ptr<Waiter>> waking_;   // announce()'s scratch, its capacity kept
};

}  // namespace tensoripc::daemon
