#include "daemon/frame_watcher.h"

#include <spdlog/spdlog.h>

#include <algorithm>

#include "common/clock.h"
#include "common/futex.h"
#include "common/process.h"

namespace tensoripc::daemon {

// One thread and the pools it watches. entries/version/stopping are guarded
// by mu; `count` by the watcher's mutex (it picks groups with room).
struct FrameWatcher::Group {
  std::mutex mu;
  std::map<uint64_t, std::shared_ptr<const PoolMapping>> entries;
  uint64_t version = 0;
  bool stopping = false;
  size_t count = 0;
  // Bumped (and woken) whenever entries or stopping change.
  std::atomic<uint32_t> control{0};
  std::thread thread;

  // Tells the thread to look again. In per-pool mode it sleeps on the pool's
  // word, not on `control`: kick that word too (after `control`, which the
  // thread checks before it sleeps).
  void poke(const PoolMapping* per_pool_word) {
    futex_kick(control);
    if (per_pool_word) futex_kick(per_pool_word->header().futex_word);
  }
};

namespace {

size_t capacity_for(FrameWatcher::Mode mode) {
  const bool waitv = mode != FrameWatcher::Mode::kPerPool && futex_wait_any_supported();
  if (mode == FrameWatcher::Mode::kWaitv && !waitv) {
    spdlog::warn(
        "futex_waitv is not available (Linux 5.16 or later, and allowed by seccomp); "
        "watching pools with a thread each");
  }
  return waitv ? kFutexWaitAnyMax - 1 : 1;  // one word of each call is the control word
}

}  // namespace

FrameWatcher::FrameWatcher(OnWake on_wake, Mode mode, std::chrono::nanoseconds rescan)
    : on_wake_(std::move(on_wake)), rescan_(rescan), capacity_(capacity_for(mode)) {
  spdlog::info("frame watcher: {}", capacity_ > 1 ? "futex_waitv, up to 127 pools per thread"
                                                  : "FUTEX_WAIT, one thread per watched pool");
}

FrameWatcher::~FrameWatcher() { stop(); }

size_t FrameWatcher::threads() const {
  std::lock_guard<std::mutex> lock(mu_);
  return groups_.size();
}

void FrameWatcher::watch(uint64_t id, std::shared_ptr<const PoolMapping> mapping) {
  std::lock_guard<std::mutex> lock(mu_);
  if (stopped_ || where_.count(id) > 0) return;
  Group* group = nullptr;
  for (auto& g : groups_) {
    if (g->count < capacity_) {
      group = g.get();
      break;
    }
  }
  if (!group) {
    groups_.push_back(std::make_unique<Group>());
    group = groups_.back().get();
    group->thread = std::thread([this, group] { run(*group); });
  }
  ++group->count;
  where_[id] = group;
  {
    std::lock_guard<std::mutex> glock(group->mu);
    group->entries[id] = std::move(mapping);
    ++group->version;
  }
  // A per-pool thread with no pool sleeps on the control word.
  group->poke(nullptr);
}

void FrameWatcher::unwatch(uint64_t id) {
  std::shared_ptr<const PoolMapping> gone;
  Group* group;
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = where_.find(id);
    if (it == where_.end()) return;
    group = it->second;
    where_.erase(it);
    --group->count;
    std::lock_guard<std::mutex> glock(group->mu);
    auto e = group->entries.find(id);
    gone = std::move(e->second);
    group->entries.erase(e);
    ++group->version;
  }
  group->poke(capacity_ == 1 ? gone.get() : nullptr);
}

void FrameWatcher::stop() {
  std::vector<std::unique_ptr<Group>> groups;
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopped_ = true;
    groups.swap(groups_);
    where_.clear();
  }
  for (auto& g : groups) {
    std::vector<std::shared_ptr<const PoolMapping>> words;
    {
      std::lock_guard<std::mutex> glock(g->mu);
      g->stopping = true;
      for (auto& [id, m] : g->entries) words.push_back(m);
    }
    g->poke(nullptr);
    if (capacity_ == 1) {
      for (auto& m : words) g->poke(m.get());
    }
  }
  for (auto& g : groups) {
    if (g->thread.joinable()) g->thread.join();
  }
}

void FrameWatcher::run(Group& group) {
  // Nice +5: a put wakes this thread, and at equal priority the kernel lets
  // it preempt the producer that woke it. On 2 cores that cost put() ~35-55
  // us at p50 and, with the chain of wake-ups it set off, doubled the stream
  // path's latency (bench/README.md has the numbers). Behind the producer, it
  // runs on the other core or as soon as the producer sleeps.
  lower_thread_priority();
  std::vector<uint64_t> ids;
  std::vector<std::shared_ptr<const PoolMapping>> maps;
  std::vector<uint64_t> last_latest;  // latest_seq at the last on_wake, per pool
  uint64_t seen_version = ~uint64_t{0};
  FutexWaitItem items[kFutexWaitAnyMax];
  const bool waitv = capacity_ > 1;
  for (;;) {
    // The control word first: a change made after this load makes the wait
    // below return at once (waitv) or is caught by the check before it.
    const uint32_t control_seen = group.control.load(std::memory_order_seq_cst);
    {
      std::lock_guard<std::mutex> lock(group.mu);
      if (group.stopping) return;
      if (group.version != seen_version) {
        seen_version = group.version;
        std::map<uint64_t, uint64_t> old;
        for (size_t i = 0; i < ids.size(); ++i) old[ids[i]] = last_latest[i];
        ids.clear();
        maps.clear();
        last_latest.clear();
        for (const auto& [id, m] : group.entries) {
          ids.push_back(id);
          maps.push_back(m);
          auto o = old.find(id);
          last_latest.push_back(o == old.end() ? 0 : o->second);  // new: look at once
        }
      }
    }
    const size_t n = ids.size();
    // Each word before its condition: a frame published after the word was
    // read changes the word, so the sleep below does not start (the
    // handshake of common/futex.h, with this thread counted in the header's
    // futex_waiters by the registry).
    for (size_t i = 0; i < n; ++i) {
      std::atomic<uint32_t>& word = maps[i]->header().futex_word;
      items[i] = FutexWaitItem{&word, word.load(std::memory_order_seq_cst)};
    }
    for (size_t i = 0; i < n; ++i) {
      const uint64_t latest = maps[i]->header().latest_seq.load(std::memory_order_seq_cst);
      if (latest != last_latest[i]) {
        last_latest[i] = latest;
        on_wake_(ids[i]);
      }
    }
    const int64_t deadline = rescan_.count() > 0 ? deadline_after(rescan_.count()) : INT64_MAX;
    if (waitv) {
      // Shared, as futex_kick's FUTEX_WAKE is.
      items[n] = FutexWaitItem{&group.control, control_seen};
      futex_wait_any(items, n + 1, deadline);
    } else {
      if (group.control.load(std::memory_order_seq_cst) != control_seen) continue;
      const int64_t timeout =
          deadline == INT64_MAX ? -1 : std::max<int64_t>(0, deadline - monotonic_ns());
      if (n == 1) {
        futex_wait(items[0].word, items[0].expected, timeout);
      } else {
        futex_wait(&group.control, control_seen, timeout);
      }
    }
  }
}

}  // namespace tensoripc::daemon
