// A publish rate over the last couple of seconds, from counts in fixed
// buckets of monotonic time: O(1) per event, no allocation. Events may also
// be recorded in bulk, n of them known only to have happened between two
// looks at a pool: they are spread evenly over that time.
//
// Value type; not thread-safe (the Registry's lock guards it).
#pragma once

#include <algorithm>
#include <array>
#include <cstdint>

namespace tensoripc::daemon {

class RateMeter {
 public:
  static constexpr int64_t kBucketNs = 250'000'000;
  static constexpr int kBuckets = 8;  // a 2 s window

  void record(int64_t now_ns) { record(now_ns, 1, now_ns); }

  // `n` events somewhere in (since_ns, now_ns].
  void record(int64_t now_ns, uint64_t n, int64_t since_ns) {
    advance(now_ns);
    if (first_ns_ == 0) first_ns_ = since_ns < now_ns ? since_ns : now_ns;
    if (since_ns >= now_ns) {
      counts_[index(now_ns)] += static_cast<double>(n);
      return;
    }
    const int64_t window_start = (now_ns / kBucketNs - kBuckets + 1) * kBucketNs;
    const double per_ns = static_cast<double>(n) / static_cast<double>(now_ns - since_ns);
    for (int64_t t = std::max({since_ns, window_start, int64_t{0}}); t < now_ns;) {
      const int64_t end = std::min((t / kBucketNs + 1) * kBucketNs, now_ns);
      counts_[index(t)] += static_cast<double>(end - t) * per_ns;
      t = end;
    }
  }

  // Events per second over the window (or over the time since the first
  // event, when that is shorter); 0 when nothing was recorded in the window.
  double rate_hz(int64_t now_ns) const {
    const int64_t bucket = now_ns / kBucketNs;
    double total = 0;
    int64_t from = std::max(bucket, last_bucket_) - kBuckets + 1;
    if (from < 0) from = 0;
    for (int64_t b = from; b <= last_bucket_ && b <= bucket; ++b) {
      total += counts_[static_cast<size_t>(b % kBuckets)];
    }
    if (total <= 0) return 0.0;
    int64_t span = int64_t{kBucketNs} * kBuckets;
    if (now_ns - first_ns_ < span) span = now_ns - first_ns_;
    if (span < kBucketNs) span = kBucketNs;
    return total * 1e9 / static_cast<double>(span);
  }

 private:
  static size_t index(int64_t ns) { return static_cast<size_t>((ns / kBucketNs) % kBuckets); }

  // Zeroes the buckets that the clock moved past since the last call.
  void advance(int64_t now_ns) {
    const int64_t bucket = now_ns / kBucketNs;
    if (last_bucket_ >= 0) {
      const int64_t steps = bucket - last_bucket_;
      if (steps >= kBuckets) {
        counts_.fill(0);
      } else {
        for (int64_t b = last_bucket_ + 1; b <= bucket; ++b) {
          counts_[static_cast<size_t>(b % kBuckets)] = 0;
        }
      }
    }
    if (bucket > last_bucket_) last_bucket_ = bucket;
  }

  std::array<double, kBuckets> counts_{};
  int64_t last_bucket_ = -1;
  int64_t first_ns_ = 0;
};

}  // namespace tensoripc::daemon
