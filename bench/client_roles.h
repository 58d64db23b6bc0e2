// The library's side of the end-to-end benchmarks, run in child processes:
// consumers that record put -> callback latency, a consumer that counts the
// large frames it can keep up with, and a consumer that only sleeps on the
// pool's futex, to be SIGKILLed there.
#pragma once

#include <cstdint>
#include <string>

#include "tensoripc/tensoripc.h"

namespace tensoripc::bench {

// What a child consumer subscribes to; the producer uses the same.
struct PoolSpec {
  std::string name;
  std::vector<int64_t> shape;
  DType dtype = DType::kUInt8;
  uint32_t history_len = 4;

  PoolMetadata metadata() const { return PoolMetadata::create(name, shape, dtype, history_len); }
};

// Subscribes (socket from $TENSOR_IPC_SOCKET) with `notify`, prints "ready"
// once the pool is live, records realtime_ns() at callback entry minus the
// frame's timestamp for frames with seq > warmup, and on SIGTERM writes the
// samples to `out`. Returns an exit status.
int run_latency_consumer(const PoolSpec& pool, NotifyPath notify, uint64_t warmup,
                         const std::string& out);

// As above, but counts the frames its callback got (each copied out of the
// pool, as callback_reads_frame does by default), the gaps in their seqs and
// frames whose first 8 bytes are not their seq. On SIGTERM writes
// {frames, lost, wrong, first_seq, last_seq} to `out`.
int run_fps_consumer(const PoolSpec& pool, NotifyPath notify, const std::string& out);

// The consumer of the side-by-side comparison with iceoryx (tipc_bench_iceoryx):
// frames carry CLOCK_REALTIME in their first 8 bytes, written by the producer
// just before it writes the frame; the callback (callback_reads_frame off)
// takes a zero-copy view() and records realtime_ns() minus that stamp, for
// seq > warmup. Prints "ready" once live; on SIGTERM writes the samples to
// `out` and prints "dropped N" (frame events the daemon dropped) and
// "missed N" (callbacks whose view had moved on to a newer frame).
int run_view_consumer(const PoolSpec& pool, NotifyPath notify, uint64_t warmup,
                      const std::string& out);

// A consumer asleep on the pool's futex in two threads: its futex-path
// notification thread (an on_new_data callback that counts frames) and the
// main thread, blocked in wait_for_frame. Prints "ready" once the pool is
// live and "receiving" once both have seen a frame; then waits for frames
// until a signal ends it (tipc_bench_waiters SIGKILLs it in the wait), or
// its parent dies. Returns an exit status only on failure.
int run_futex_waiter(const PoolSpec& pool);

}  // namespace tensoripc::bench
