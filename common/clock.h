// Clocks, in one place so every timestamp means the same thing.
#pragma once

#include <time.h>

#include <cstdint>

namespace tensoripc {

// Frame timestamps: CLOCK_REALTIME in ns (comparable across processes, and
// with ROS stamps).
inline int64_t realtime_ns() {
  struct timespec ts {};
  clock_gettime(CLOCK_REALTIME, &ts);
  return int64_t{ts.tv_sec} * 1000000000 + ts.tv_nsec;
}

// Intervals and deadlines: CLOCK_MONOTONIC in ns.
inline int64_t monotonic_ns() {
  struct timespec ts {};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return int64_t{ts.tv_sec} * 1000000000 + ts.tv_nsec;
}

}  // namespace tensoripc
