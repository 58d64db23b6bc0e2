#include "notifier.h"

#include <algorithm>

#include "common/process.h"
#include "pool/ring.h"

namespace tensoripc {
namespace {
// A short nap after sending: puts arriving back to back within it are sent
// as one batch and cost their caller no wake at all. A frame that comes
// alone (camera rates) finds the notifier asleep and is unaffected.
constexpr std::chrono::microseconds kCoalesce{50};
}  // namespace

Notifier::Notifier(uint32_t keep_last, std::atomic<uint64_t>* dropped)
    : keep_last_(keep_last), dropped_(dropped) {}

Notifier::~Notifier() { stop(); }

void Notifier::start() {
  thread_ = std::thread([this] { run(); });
}

void Notifier::install(std::shared_ptr<PoolMapping> mapping, std::shared_ptr<LeaseCall> call,
                       uint64_t from_seq) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    mapping_ = std::move(mapping);
    call_ = std::move(call);
    from_seq_ = from_seq;
    ++installs_;
    cv_.notify_all();
  }
  attention_.store(true, std::memory_order_seq_cst);
  futex_kick(word_);
}

void Notifier::stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
    cv_.notify_all();
  }
  attention_.store(true, std::memory_order_seq_cst);
  futex_kick(word_);
  if (thread_.joinable()) thread_.join();
}

uint64_t Notifier::wait_for_put(const PoolMapping& m, uint64_t after,
                                std::chrono::milliseconds timeout) {
  const PoolHeader& h = m.header();
  uint64_t latest = 0;
  futex_sleep_until(word_, &sleepers_, deadline_after(std::chrono::nanoseconds(timeout).count()),
                    [&] {
                      latest = h.latest_seq.load(std::memory_order_seq_cst);
                      return latest > after || attention_.load(std::memory_order_seq_cst);
                    });
  return latest;
}

void Notifier::announce(const PoolMapping& m, LeaseCall& call, uint64_t last_sent,
                        uint64_t latest) {
  const uint64_t first =
      std::max(last_sent + 1, latest >= keep_last_ ? latest - keep_last_ + 1 : 1);
  dropped_->fetch_add(first - (last_sent + 1), std::memory_order_relaxed);
  for (uint64_t seq = first; seq <= latest; ++seq) {
    int64_t ts = 0;
    // seq and time read as one pair, under the slot's seqlock.
    if (read_frame(m, seq, nullptr, &ts) != ReadStatus::kOk) {
      dropped_->fetch_add(1, std::memory_order_relaxed);  // already overwritten
      continue;
    }
    call.publish(FrameStamp{seq, seq % m.slot_count(), ts});
  }
}

void Notifier::run() {
  // Behind the consumers: on a small machine the thread woken with them by
  // the same put must not take a core a futex consumer is waiting for.
  lower_thread_priority();
  std::shared_ptr<PoolMapping> m;
  std::shared_ptr<LeaseCall> call;
  uint64_t seen_installs = 0;
  uint64_t last_sent = 0;
  for (;;) {
    // Once stopping, one last pass sends what is left: cleanup() then
    // half-closes the stream, so the frames put just before it are announced.
    attention_.store(false, std::memory_order_seq_cst);
    bool stopping;
    {
      std::lock_guard<std::mutex> lock(mu_);
      stopping = stopping_;
      if (installs_ != seen_installs) {
        seen_installs = installs_;
        m = mapping_;
        call = call_;
        last_sent = from_seq_;
      }
    }
    if (!m || !call || call->ended()) {
      if (stopping) return;
      // Disconnected: sleep until the lease keeper installs a new call (no
      // futex registration, so put() pays no wake meanwhile).
      std::unique_lock<std::mutex> lock(mu_);
      cv_.wait_for(lock, std::chrono::milliseconds(100),
                   [&] { return stopping_ || installs_ != seen_installs; });
      continue;
    }
    const uint64_t latest = stopping ? m->header().latest_seq.load(std::memory_order_acquire)
                                     : wait_for_put(*m, last_sent, std::chrono::milliseconds(200));
    if (latest > last_sent) {
      announce(*m, *call, last_sent, latest);
      last_sent = latest;
      if (!stopping) std::this_thread::sleep_for(kCoalesce);
    }
    if (stopping) return;
  }
}

}  // namespace tensoripc
