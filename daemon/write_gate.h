// Fair turns at gRPC for every Subscribe stream's writes.
//
// The daemon's gRPC threads are one FIFO for every stream: a pool with
// thousands of subscribers at 1 kHz (or thousands of subscribers that never
// read, whose connections still take data) fills it, and another pool's one
// subscriber waits behind all of them. The gate bounds the writes in flight
// daemon-wide; past the bound, a stream that wants to write waits its turn,
// and turns go round the pools (round robin), then within a pool to its
// streams in the order they asked. A pool with one subscriber thus waits for
// at most one write of each other busy pool, however many subscribers they
// have, and gRPC's queue never holds more than the bound.
//
// A write whose stream does not take data (its client stopped reading and
// flow control holds it) costs no CPU while it waits, so it must not hold a
// turn: once the bound is reached, writes in flight for longer than
// kStalled are set aside and stop counting against it.
//
// A stream that falls behind (its queue overflowed since it last asked for a
// turn: it takes events more slowly than its pool makes them) asks as
// lagging. Lagging turns are handed out only by the gate's thread, after
// every stream that keeps up, round the pools, at most
// kLaggingWritesPerSecond of them daemon-wide (counting only turns that
// started a write), in bursts of up to kLaggingBurst. A client whose
// transport takes data without end while its application never reads (2000
// such streams kept the daemon at 1.3 CPUs writing them 18-22k events/s)
// then costs a bounded share of the daemon, and the streams that keep up go
// first. A lagging subscriber drops frames whatever it is sent; fewer, later
// events only make it drop more. What overflows while a stream waits for its
// lagging turn counts too: forgiven, each never-reading stream of a flood,
// back on ordinary turns after its lagging one, drains its whole queue at
// full speed (measured: 1.25 CPUs for those 2000 streams, against 0.55-0.72).
//
// Turns are handed out by the gate's own thread, which holds no other lock
// when it calls granted(): streams may call acquire() and release() with
// their own locks held. It also sets aside stalled writes while streams wait,
// so that a bound filled by stalled writes strands no one. Thread-safe.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

namespace tensoripc::daemon {

class WriteGate {
 public:
  static constexpr std::chrono::milliseconds kStalled{5};
  // Turns beyond the bound for quiet pools: none of their writes in flight,
  // none waiting.
  static constexpr size_t kReserve = 4;
  // Turns for lagging streams, all of them together, and how many of them
  // the gate's thread may hand out at once (it then sleeps until the rate
  // allows as many again: one wake-up per burst, not per turn).
  static constexpr uint32_t kLaggingWritesPerSecond = 2000;
  static constexpr uint32_t kLaggingBurst = 16;

  class Waiter {
   public:
    virtual ~Waiter() = default;
    // The turn asked for is this waiter's, as `ticket`: true if it started
    // a write (and will release(ticket) when it ends), false if it no longer
    // wants one (the turn goes to the next).
    virtual bool granted(uint64_t ticket) = 0;
  };

  // The bound: 4 writes per CPU (8 at least), what gRPC's threads can have
  // in hand without a quiet pool's write waiting long behind them
  // (tipc_bench_neighbours: 2000 never-reading subscribers of one pool at
  // 1 kHz, another pool's p50 put -> callback 2.2x its own alone on 2 CPUs
  // with 8, 1.9x with 4, 7.9x with 16 before its fan-out had a thread of
  // its own).
  static size_t default_max_in_flight();

  explicit WriteGate(size_t max_in_flight = default_max_in_flight(),
                     uint32_t lagging_writes_per_second = kLaggingWritesPerSecond,
                     uint32_t lagging_burst = kLaggingBurst);
  // Stops the thread; waiters not granted by then never are.
  ~WriteGate();
  WriteGate(const WriteGate&) = delete;
  WriteGate& operator=(const WriteGate&) = delete;

  // A stream of pool `pool` wants to write: a ticket (non-zero) when it may
  // start now (the bound is not reached and nobody waits, or the pool is
  // quiet and the reserve not used up), else 0 and
  // `waiter` is queued; its granted() comes later, from the gate's thread
  // (skipped if the waiter is gone by then).
  uint64_t acquire(const std::string& pool, const std::weak_ptr<Waiter>& waiter);
  // A lagging stream wants to write: always queued (0), after every waiter
  // of acquire(); granted() comes from the gate's thread, at most
  // lagging_writes_per_second of them (in bursts of up to lagging_burst),
  // round the pools, each pool's in the order they asked.
  uint64_t acquire_lagging(const std::string& pool, const std::weak_ptr<Waiter>& waiter);
  // The write of `ticket` ended: its turn goes to the next waiter.
  void release(uint64_t ticket);

  // For tests and stats.
  size_t in_flight() const;
  size_t waiting() const;  // of both kinds

 private:
  using Clock = std::chrono::steady_clock;
  struct Turn {
    Clock::time_point start;
    std::string pool;
  };
  struct PoolTurns {
    std::deque<std::weak_ptr<Waiter>> waiting;
    size_t in_flight = 0;
  };
  // All with mu_ held. A new ticket, counted in flight for `pool` from now.
  uint64_t take_locked(const std::string& pool);
  // Stops counting a write in flight.
  void drop_locked(std::map<uint64_t, Turn>::iterator it);
  // Writes in flight for longer than kStalled stop counting.
  void set_aside_stalled_locked(Clock::time_point now);
  // The next waiter in turn, removed from its queue, and its pool. One waits.
  void next_locked(std::weak_ptr<Waiter>* waiter, std::string* pool);
  // The same for lagging streams, round the pools with lagging streams.
  void next_lagging_locked(std::weak_ptr<Waiter>* waiter, std::string* pool);
  // The gate's thread: grants turns while there are both.
  void run();

  const size_t max_;
  const Clock::duration lagging_interval_;  // the budget one lagging turn spends
  const Clock::duration lagging_burst_;     // the budget that may be spent at once
  mutable std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;
  uint64_t next_ticket_ = 1;
  std::map<uint64_t, Turn> in_flight_;  // by ticket: oldest first
  std::map<std::string, PoolTurns> pools_;  // pools with writes in flight or waiting
  std::string last_pool_;  // whose turn was last: the round robin's place
  size_t waiting_count_ = 0;
  // Lagging streams waiting, by pool, each pool's oldest first.
  std::map<std::string, std::deque<std::weak_ptr<Waiter>>> lagging_;
  size_t lagging_count_ = 0;
  std::string last_lagging_pool_;  // the lagging round robin's place
  // The lagging budget is spent up to here: a lagging turn may go while one
  // more turn's worth would put it no more than lagging_burst_ ahead of now.
  Clock::time_point lagging_spent_{};
  std::thread thread_;  // last: started once everything above is
};

}  // namespace tensoripc::daemon
