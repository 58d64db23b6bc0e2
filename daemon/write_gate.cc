#include "daemon/write_gate.h"

#include <algorithm>

namespace tensoripc::daemon {

size_t WriteGate::default_max_in_flight() {
  const size_t cpus = std::thread::hardware_concurrency();
  return std::max<size_t>(8, 4 * cpus);
}

WriteGate::WriteGate(size_t max_in_flight, uint32_t lagging_writes_per_second,
                     uint32_t lagging_burst)
    : max_(max_in_flight == 0 ? 1 : max_in_flight),
      lagging_interval_(std::chrono::duration_cast<Clock::duration>(std::chrono::seconds(1)) /
                        std::max<uint32_t>(1, lagging_writes_per_second)),
      lagging_burst_(lagging_interval_ * std::max<uint32_t>(1, lagging_burst)),
      thread_([this] { run(); }) {}

WriteGate::~WriteGate() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  thread_.join();
}

uint64_t WriteGate::acquire(const std::string& pool, const std::weak_ptr<Waiter>& waiter) {
  std::lock_guard<std::mutex> lock(mu_);
  if (in_flight_.size() >= max_) set_aside_stalled_locked(Clock::now());
  if (waiting_count_ == 0 && in_flight_.size() < max_) return take_locked(pool);
  // A quiet pool (nothing of it in flight or waiting) has not had a turn for
  // a while: it takes one at once, from the few beyond the bound kept for
  // this, rather than wait for the gate's thread behind a busy pool.
  auto it = pools_.find(pool);
  const bool quiet = it == pools_.end();
  if (quiet && in_flight_.size() < max_ + kReserve) return take_locked(pool);
  if (quiet) it = pools_.emplace(pool, PoolTurns{}).first;
  it->second.waiting.push_back(waiter);
  if (++waiting_count_ == 1) cv_.notify_one();  // it sets aside stalled writes meanwhile
  return 0;
}

uint64_t WriteGate::acquire_lagging(const std::string& pool,
                                    const std::weak_ptr<Waiter>& waiter) {
  std::lock_guard<std::mutex> lock(mu_);
  lagging_[pool].push_back(waiter);
  if (++lagging_count_ == 1) cv_.notify_one();
  return 0;
}

void WriteGate::release(uint64_t ticket) {
  std::lock_guard<std::mutex> lock(mu_);
  // A write set aside as stalled is no longer counted: nothing to hand on.
  auto it = in_flight_.find(ticket);
  if (it == in_flight_.end()) return;
  // Lagging streams alone need the gate's thread only if it waits for a
  // write to end (the bound was reached); otherwise it sleeps until their
  // budget allows a turn.
  const bool bound_reached = in_flight_.size() >= max_;
  drop_locked(it);
  if (waiting_count_ > 0 || (lagging_count_ > 0 && bound_reached)) cv_.notify_one();
}

size_t WriteGate::in_flight() const {
  std::lock_guard<std::mutex> lock(mu_);
  return in_flight_.size();
}

size_t WriteGate::waiting() const {
  std::lock_guard<std::mutex> lock(mu_);
  return waiting_count_ + lagging_count_;
}

uint64_t WriteGate::take_locked(const std::string& pool) {
  const uint64_t ticket = next_ticket_++;
  in_flight_.emplace_hint(in_flight_.end(), ticket, Turn{Clock::now(), pool});
  ++pools_[pool].in_flight;
  return ticket;
}

void WriteGate::drop_locked(std::map<uint64_t, Turn>::iterator it) {
  auto p = pools_.find(it->second.pool);
  if (p != pools_.end() && --p->second.in_flight == 0 && p->second.waiting.empty()) {
    pools_.erase(p);
  }
  in_flight_.erase(it);
}

void WriteGate::set_aside_stalled_locked(Clock::time_point now) {
  while (!in_flight_.empty() && now - in_flight_.begin()->second.start >= kStalled) {
    drop_locked(in_flight_.begin());
  }
}

namespace {

// The round robin of both kinds of turns: the first pool after `last` (the
// one served last), wrapping round, whose queue (queue_of its entry) has a
// waiter. One exists.
template <typename Pools, typename QueueOf>
typename Pools::iterator pool_in_turn(Pools& pools, const std::string& last, QueueOf queue_of) {
  auto it = pools.upper_bound(last);
  for (size_t n = 0; n <= pools.size(); ++n, ++it) {
    if (it == pools.end()) it = pools.begin();
    if (!queue_of(it->second).empty()) break;
  }
  return it;
}

}  // namespace

void WriteGate::next_locked(std::weak_ptr<Waiter>* waiter, std::string* pool) {
  auto it = pool_in_turn(pools_, last_pool_, [](PoolTurns& t) -> auto& { return t.waiting; });
  *waiter = std::move(it->second.waiting.front());
  it->second.waiting.pop_front();
  --waiting_count_;
  *pool = last_pool_ = it->first;
}

void WriteGate::next_lagging_locked(std::weak_ptr<Waiter>* waiter, std::string* pool) {
  // Round the pools, as next_locked does: a stream of a pool that lags for a
  // moment waits behind one turn of each other lagging pool, not behind a
  // flood of thousands of streams in one of them.
  auto it = pool_in_turn(lagging_, last_lagging_pool_, [](auto& queue) -> auto& { return queue; });
  *waiter = std::move(it->second.front());
  it->second.pop_front();
  --lagging_count_;
  *pool = last_lagging_pool_ = it->first;
  if (it->second.empty()) lagging_.erase(it);
}

void WriteGate::run() {
  std::unique_lock<std::mutex> lock(mu_);
  while (!stop_) {
    if (waiting_count_ == 0 && lagging_count_ == 0) {
      cv_.wait(lock);
      continue;
    }
    const auto now = Clock::now();
    set_aside_stalled_locked(now);
    if (in_flight_.size() >= max_) {
      // Until a write ends, or the oldest one stalls.
      cv_.wait_until(lock, in_flight_.begin()->second.start + kStalled);
      continue;
    }
    std::weak_ptr<Waiter> next;
    std::string pool;
    const bool lagging = waiting_count_ == 0;
    if (!lagging) {
      next_locked(&next, &pool);
    } else if (lagging_spent_ + lagging_interval_ - now > lagging_burst_) {
      // Only lagging streams wait, and their budget is spent for now: until
      // it allows a whole burst again.
      cv_.wait_until(lock, lagging_spent_);
      continue;
    } else {
      next_lagging_locked(&next, &pool);
    }
    const uint64_t ticket = take_locked(pool);
    lock.unlock();
    std::shared_ptr<Waiter> w = next.lock();
    const bool writing = w && w->granted(ticket);
    w.reset();  // its last reference may go here: not under mu_
    lock.lock();
    if (!writing) {
      if (auto it = in_flight_.find(ticket); it != in_flight_.end()) drop_locked(it);
    } else if (lagging) {
      // Only a turn that started a write spends the budget (a stream gone,
      // or with nothing left to write, hands the turn straight on). A rate,
      // not a schedule: time no lagging stream asked for is not saved up
      // beyond one burst.
      lagging_spent_ = std::max(lagging_spent_, now) + lagging_interval_;
    }
  }
}

}  // namespace tensoripc::daemon
