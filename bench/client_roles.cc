#include "client_roles.h"

#include <signal.h>
#include <sys/prctl.h>

#include <atomic>
#include <cstdio>
#include <cstring>
#include <optional>
#include <thread>
#include <vector>

#include "support.h"

namespace tensoripc::bench {
namespace {

// Prints "ready" once the consumer is attached to a live pool.
bool announce_when_live(const Consumer& consumer) {
  const int64_t deadline = monotonic_ns() + 10'000'000'000;
  while (consumer.status().state != PoolState::kLive) {
    if (monotonic_ns() > deadline) {
      std::fprintf(stderr, "bench consumer: pool not live after 10 s\n");
      return false;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  std::printf("ready\n");
  std::fflush(stdout);
  return true;
}

}  // namespace

int run_latency_consumer(const PoolSpec& pool, NotifyPath notify, uint64_t warmup,
                         const std::string& out) {
  const sigset_t stop = block_stop_signals();
  std::vector<int64_t> samples;
  samples.reserve(1 << 16);
  ConsumerOptions options;
  options.notify = notify;
  options.keep_last = 64;
  // Only the notification thread touches `samples` until cleanup().
  options.on_new_data = [&samples, warmup](const Frame& frame) {
    const int64_t now = realtime_ns();
    if (frame.seq > warmup) samples.push_back(now - frame.timestamp_ns);
  };
  Consumer consumer(pool.metadata(), options);
  if (!announce_when_live(consumer)) return 1;
  wait_for_stop(stop);
  const uint64_t dropped = consumer.status().dropped;
  consumer.cleanup();
  std::printf("dropped %llu\n", static_cast<unsigned long long>(dropped));
  std::fflush(stdout);
  return write_samples(out, samples) ? 0 : 1;
}

int run_view_consumer(const PoolSpec& pool, NotifyPath notify, uint64_t warmup,
                      const std::string& out) {
  const sigset_t stop = block_stop_signals();
  std::vector<int64_t> samples;
  samples.reserve(1 << 16);
  uint64_t missed = 0;
  std::atomic<Consumer*> self{nullptr};
  ConsumerOptions options;
  options.notify = notify;
  options.keep_last = 64;
  options.callback_reads_frame = false;
  options.on_new_data = [&](const Frame& frame) {
    Consumer* c = self.load(std::memory_order_acquire);
    if (c == nullptr || frame.seq <= warmup) return;
    const std::optional<FrameView> v = c->view();
    int64_t stamp = 0;
    if (v) std::memcpy(&stamp, v->tensor().data(), sizeof stamp);
    const int64_t now = realtime_ns();
    if (!v || v->seq() != frame.seq || !v->still_valid()) {
      ++missed;
      return;
    }
    samples.push_back(now - stamp);
  };
  Consumer consumer(pool.metadata(), options);
  self.store(&consumer, std::memory_order_release);
  if (!announce_when_live(consumer)) return 1;
  wait_for_stop(stop);
  const uint64_t dropped = consumer.status().dropped;
  consumer.cleanup();
  std::printf("dropped %llu\nmissed %llu\n", static_cast<unsigned long long>(dropped),
              static_cast<unsigned long long>(missed));
  std::fflush(stdout);
  return write_samples(out, samples) ? 0 : 1;
}

int run_fps_consumer(const PoolSpec& pool, NotifyPath notify, const std::string& out) {
  const sigset_t stop = block_stop_signals();
  int64_t frames = 0, lost = 0, wrong = 0;
  uint64_t first_seq = 0, last_seq = 0;
  ConsumerOptions options;
  options.notify = notify;
  options.on_new_data = [&](const Frame& frame) {
    uint64_t stamped = 0;
    std::memcpy(&stamped, frame.tensor.data(), sizeof stamped);
    if (stamped != frame.seq) ++wrong;
    if (first_seq == 0) first_seq = frame.seq;
    if (last_seq != 0 && frame.seq > last_seq + 1)
      lost += static_cast<int64_t>(frame.seq - last_seq - 1);
    last_seq = frame.seq;
    ++frames;
  };
  Consumer consumer(pool.metadata(), options);
  if (!announce_when_live(consumer)) return 1;
  wait_for_stop(stop);
  consumer.cleanup();
  return write_samples(out, {frames, lost, wrong, static_cast<int64_t>(first_seq),
                             static_cast<int64_t>(last_seq)})
             ? 0
             : 1;
}

int run_futex_waiter(const PoolSpec& pool) {
  // Meant to be killed; never outlives the benchmark that started it.
  ::prctl(PR_SET_PDEATHSIG, SIGKILL);
  std::atomic<uint64_t> callbacks{0};
  ConsumerOptions options;
  options.notify = NotifyPath::kFutex;
  options.on_new_data = [&callbacks](const Frame&) {
    callbacks.fetch_add(1, std::memory_order_relaxed);
  };
  Consumer consumer(pool.metadata(), options);
  if (!announce_when_live(consumer)) return 1;
  bool announced = false;
  uint64_t waits = 0;
  for (;;) {
    if (consumer.wait_for_frame(std::chrono::seconds(1))) ++waits;
    if (!announced && waits > 0 && callbacks.load(std::memory_order_relaxed) > 0) {
      std::printf("receiving\n");
      std::fflush(stdout);
      announced = true;
    }
  }
}

}  // namespace tensoripc::bench
