#include "daemon/registry.h"

#include <spdlog/spdlog.h>
#include <unistd.h>

#include <algorithm>
#include <random>
#include <utility>

#include "common/clock.h"

namespace tensoripc::daemon {
namespace {

// Enough for every process of a busy machine; a bound so that a runaway
// client cannot grow the daemon without limit.
constexpr size_t kMaxSubscriptions = 65536;

Status topic_held(const std::string& message, int32_t pid) {
  return already_exists(message).set_holder_pid(pid);
}

// A segment's generation: random, never 0, so that a pool created anew is
// never mistaken for the one a client mapped before.
uint64_t random_generation() {
  static thread_local std::mt19937_64 rng{std::random_device{}()};
  uint64_t g = 0;
  while (g == 0) g = rng();
  return g;
}

std::shared_ptr<const PoolEvent> waiting_event() {
  auto ev = std::make_shared<PoolEvent>();
  ev->kind = PoolEvent::Kind::kWaiting;
  return ev;
}

std::shared_ptr<const PoolEvent> gone_event(int32_t pid, bool kept) {
  auto ev = std::make_shared<PoolEvent>();
  ev->kind = PoolEvent::Kind::kProducerGone;
  ev->producer_pid = pid;
  ev->pool_kept = kept;
  return ev;
}

std::shared_ptr<const PoolEvent> removed_event(const std::string& reason) {
  auto ev = std::make_shared<PoolEvent>();
  ev->kind = PoolEvent::Kind::kRemoved;
  ev->reason = reason;
  return ev;
}

}  // namespace

uint64_t Registry::Pool::header_latest_seq() const {
  return segment->header().latest_seq.load(std::memory_order_acquire);
}

void Registry::Pool::set_producer_pid(int32_t pid) {
  segment->header().producer_pid.store(pid, std::memory_order_release);
}

void Registry::Pool::publish_waiters() {
  segment->header().futex_waiters.store(subscribers, std::memory_order_seq_cst);
}

void Registry::Pool::observe(int64_t now_ns) {
  const uint64_t seen = std::max(latest_seq, header_latest_seq());
  if (seen <= rate_seq) return;
  rate.record(now_ns, seen - rate_seq, rate_at_ns);
  rate_seq = seen;
  rate_at_ns = now_ns;
  // The frame's own stamp, read under its slot's seqlock; no wait for a
  // slot mid-write (then the last time known stays).
  int64_t ts = 0;
  if (read_frame(*segment, seen, nullptr, &ts) == ReadStatus::kOk) last_publish_unix_ns = ts;
}

// Half of physical memory: where pool memory (shmem) lives.
static uint64_t default_max_total_bytes() {
  const long pages = ::sysconf(_SC_PHYS_PAGES);
  const long page = ::sysconf(_SC_PAGESIZE);
  if (pages <= 0 || page <= 0) return UINT64_MAX;
  return static_cast<uint64_t>(pages) * static_cast<uint64_t>(page) / 2;
}

Registry::Registry(RegistryOptions options)
    : options_(std::move(options)),
      max_total_bytes_(options_.max_total_bytes != 0 ? options_.max_total_bytes
                                                     : default_max_total_bytes()),
      watcher_([this](uint64_t id) { on_wake(id); }, options_.watch_mode) {}

Registry::~Registry() { watcher_.stop(); }  // no more wakes; bulk_ goes after

StatusOr<Grant> Registry::claim(const Claim& claim, const Caller& caller,
                                std::shared_ptr<LeaseHolder> holder, ShmFile* handed_back) {
  PoolMetadata md = claim.metadata;
  if (Status s = complete_metadata(&md, PoolLimits{options_.max_pool_bytes}); !s.ok()) return s;
  if (Status s = check_cuda_memory(md, claim.cuda); !s.ok()) return s;
  const std::string& name = md.name;

  std::unique_lock<std::mutex> lock(mu_);
  if (closed_) return unavailable("tensor-ipcd is shutting down");
  if (auto creating = creating_.find(name); creating != creating_.end()) {
    return topic_held(
        "topic '" + name + "' is being claimed by pid " + std::to_string(creating->second),
        creating->second);
  }
  if (auto held = leases_.find(holder.get()); held != leases_.end()) {
    return failed_precondition("this session already holds pool '" + held->second +
                               "'; open another ProducerSession for pool '" + name + "'");
  }
  auto it = pools_.find(name);
  bool resumed = false;
  bool adopted = false;  // carried on in memory a producer handed back
  if (it != pools_.end()) {
    Pool& pool = *it->second;
    if (pool.holder) {
      return topic_held(
          "topic '" + name + "' is already published by pid " + std::to_string(pool.producer_pid),
          pool.producer_pid);
    }
    if (!caller.may_manage(pool.owner_uid)) {
      return Status(StatusCode::kPermissionDenied,
                    "pool '" + name + "' belongs to uid " + std::to_string(pool.owner_uid) +
                        "; only that user, root or the daemon's admin group may resume or "
                        "replace it (caller: " + caller.to_string() + ")");
    }
    // (A GPU pool never gets here without a holder: release() drops it.)
    if (same_identity(md, pool.metadata)) {
      resumed = true;
      // Not part of the identity, and they belong to the producer now holding it.
      pool.metadata.backend_type = md.backend_type;
      pool.metadata.payload_json = md.payload_json;
    } else {
      const std::string why = "replaced by a pool of another identity (" +
                              describe_identity_mismatch(md, pool.metadata) + ")";
      spdlog::info("pool '{}' {}", name, why);
      erase_pool(it, why);
      it = pools_.end();
    }
  }
  if (!resumed) {
    // Kept pools (no producer) give way, oldest first, to a claim that needs
    // their room.
    while (pools_.size() + creating_.size() >= options_.max_pools) {
      if (!evict_kept_pool(name, "--max-pools")) {
        return resource_exhausted("pool '" + name + "': the daemon already holds " +
                                  std::to_string(pools_.size() + creating_.size()) +
                                  " pools, its limit (--max-pools), all of them with a "
                                  "producer; delete unused ones with DeletePool");
      }
    }
    // All pools' memory together, the ones being created included.
    const uint64_t bytes = compute_layout(md).segment_size;
    auto held_bytes = [&] {
      uint64_t held = creating_bytes_;
      for (const auto& [other, pool] : pools_) held += pool->segment->layout().segment_size;
      return held;
    };
    uint64_t held = held_bytes();
    while (held + bytes > max_total_bytes_) {
      if (!evict_kept_pool(name, "--max-total-bytes")) {
        return resource_exhausted(
            "pool '" + name + "' needs " + std::to_string(bytes) + " bytes; the daemon's " +
            std::to_string(pools_.size()) + " pools hold " + std::to_string(held) + " of the " +
            std::to_string(max_total_bytes_) +
            " bytes all pools may take together (--max-total-bytes), with producers; delete "
            "unused ones with DeletePool");
      }
      held = held_bytes();
    }
    md.shm_name = memory_label(options_.shm_prefix, name);
    md.creator_pid = caller.pid;
    if (claim.cuda.present() && md.payload_json.empty()) {
      // The handles in the original package's payload_json spirit, when they fit.
      std::string json = cuda_memory_json(claim.cuda);
      if (json.size() <= kMaxPayloadJson) md.payload_json = std::move(json);
    }
    // Create (or check) the memory without the lock: reserving a large pool
    // takes ~0.25 s per GiB here, and publishes of every other pool must not
    // wait for it. The name is reserved meanwhile.
    creating_.emplace(name, caller.pid);
    creating_bytes_ += bytes;
    lock.unlock();
    StatusOr<std::shared_ptr<PoolMapping>> seg = failed_precondition("no memory handed back");
    if (handed_back) {
      seg = PoolMapping::adopt(std::move(*handed_back), md);
      if (seg.ok()) {
        adopted = resumed = true;
      } else {
        spdlog::warn("{}; creating the pool anew", seg.status().message());
      }
    }
    if (!seg.ok()) seg = PoolMapping::create(md, random_generation());
    lock.lock();
    creating_.erase(name);
    creating_bytes_ -= bytes;
    if (!seg.ok()) {
      return Status(seg.status().code(), "pool '" + name + "': " + seg.status().message());
    }
    if (closed_) return unavailable("tensor-ipcd is shutting down");
    auto pool = std::make_shared<Pool>();
    pool->metadata = md;
    pool->cuda = claim.cuda;
    pool->segment = std::move(*seg);
    pool->owner_uid = caller.uid;
    pool->latest_seq = pool->base_seq = pool->rate_seq = pool->header_latest_seq();
    pool->feed = std::make_shared<FrameFeed>(pool->segment, pool->latest_seq);
    pool->rate_at_ns = monotonic_ns();
    for (auto [s, end] = subscribers_by_name_.equal_range(name); s != end; ++s) {
      ++pool->subscribers;
      if (subscribers_.at(s->second).frames) ++pool->frame_subscribers;
    }
    // A handed-back pool keeps the waiters its consumers had until they
    // subscribe again; after that the count is this daemon's.
    if (!adopted || pool->subscribers > 0) pool->publish_waiters();
    it = pools_.emplace(name, std::move(pool)).first;
    std::lock_guard<std::mutex> fan(it->second->fanout_mu);
    update_watch(it->second);
  }

  Pool& pool = *it->second;
  std::lock_guard<std::mutex> fan(pool.fanout_mu);
  pool.holder = std::move(holder);
  pool.producer_pid = caller.pid;
  pool.set_producer_pid(caller.pid);
  pool.latest_seq = std::max(pool.latest_seq, pool.header_latest_seq());
  leases_[pool.holder.get()] = name;

  Grant granted;
  granted.metadata = pool.metadata;
  granted.layout = pool.segment->layout();
  granted.resumed = resumed;
  granted.latest_seq = pool.latest_seq;
  granted.producer_pid = caller.pid;
  granted.memory = pool.segment;
  broadcast_attached(pool);
  spdlog::info("{} {} by {} ({} bytes, latest_seq {})", describe_pool(pool.metadata),
               adopted ? "handed back" : resumed ? "resumed" : "created",
               caller.to_string(), pool.metadata.total_size, pool.latest_seq);
  return granted;
}

void Registry::release(const LeaseHolder* holder) {
  std::lock_guard<std::mutex> lock(mu_);
  auto lease = leases_.find(holder);
  if (lease == leases_.end()) return;
  const std::string name = lease->second;
  leases_.erase(lease);
  auto it = pools_.find(name);
  if (it == pools_.end()) return;
  Pool& pool = *it->second;
  std::unique_lock<std::mutex> fan(pool.fanout_mu);
  announce(pool);  // what it wrote before it left
  const int32_t pid = pool.producer_pid;
  pool.holder.reset();
  pool.producer_pid = 0;
  pool.set_producer_pid(0);
  pool.left_at_ns = monotonic_ns();
  // A GPU pool's device memory (CUDA IPC) leaves with its producer.
  const bool gpu = pool.cuda.present();
  const bool keep = options_.retention == Retention::kKeep && !gpu;
  broadcast(name, gone_event(pid, keep));
  spdlog::info("pool '{}': producer pid {} left; pool {}", name, pid, keep ? "kept" : "removed");
  fan.unlock();
  if (!keep) {
    erase_pool(it, "its producer (pid " + std::to_string(pid) + ") left " +
                       (gpu ? "with the pool's GPU memory (CUDA IPC memory is its exporter's)"
                            : "and the daemon runs with --retention remove"));
  }
}

Status Registry::subscribe(const std::string& name, const Caller& caller,
                           std::shared_ptr<EventSink> sink, bool frames) {
  if (Status s = validate_pool_name(name); !s.ok()) return s;
  std::lock_guard<std::mutex> lock(mu_);
  if (closed_) return unavailable("tensor-ipcd is shutting down");
  if (subscribers_.size() >= kMaxSubscriptions) {
    return resource_exhausted("the daemon already serves " + std::to_string(kMaxSubscriptions) +
                              " subscriptions");
  }
  EventSink* raw = sink.get();
  auto it = pools_.find(name);
  subscribers_[raw] = Subscriber{name, caller.pid, frames, sink};
  subscribers_by_name_.emplace(name, raw);
  if (spdlog::should_log(spdlog::level::debug)) {
    spdlog::debug("pool '{}': subscriber {} joined ({}, keep_last {}){}", name, caller.to_string(),
                  frames ? "frame events" : "lifecycle only, futex path", raw->stats().keep_last,
                  it == pools_.end() ? "; no pool yet, it waits for a producer" : "");
  }
  if (it == pools_.end()) {
    raw->push_lifecycle(waiting_event());
    return {};
  }
  Pool& pool = *it->second;
  std::lock_guard<std::mutex> fan(pool.fanout_mu);
  // The frames so far go to the subscribers so far: the new one's frame
  // events start after its kAttached's latest_seq.
  announce(pool);
  ++pool.subscribers;
  if (frames) ++pool.frame_subscribers;
  pool.publish_waiters();  // before the consumer can map the pool and sleep
  update_watch(it->second);
  auto attached = attached_event(pool);
  if (frames) raw->follow(pool.feed, attached->latest_seq);
  raw->push_lifecycle(std::move(attached));
  return {};
}

void Registry::unsubscribe(const EventSink* sink) {
  std::lock_guard<std::mutex> lock(mu_);
  auto sub = subscribers_.find(sink);
  if (sub == subscribers_.end()) return;
  const std::string& name = sub->second.name;
  if (spdlog::should_log(spdlog::level::debug)) {
    const SubscriberStats left = sub->second.sink->stats();
    spdlog::debug("pool '{}': subscriber pid {} left (frame events delivered {}, dropped {})",
                  name, sub->second.pid, left.delivered, left.dropped);
  }
  if (auto pool = pools_.find(name); pool != pools_.end()) {
    Pool& p = *pool->second;
    std::lock_guard<std::mutex> fan(p.fanout_mu);
    // Read under the fan-out lock: what the pool announced counts for it
    // too (the frames beyond what it keeps are dropped).
    p.departed_drops += sub->second.sink->stats().dropped;
    if (p.subscribers > 0) --p.subscribers;
    if (sub->second.frames && p.frame_subscribers > 0) --p.frame_subscribers;
    p.publish_waiters();
    update_watch(pool->second);
  }
  for (auto [it, end] = subscribers_by_name_.equal_range(name); it != end; ++it) {
    if (it->second == sink) {
      subscribers_by_name_.erase(it);
      break;
    }
  }
  subscribers_.erase(sub);
}

std::vector<PoolRecord> Registry::list() {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<PoolRecord> out;
  out.reserve(pools_.size());
  for (const auto& [name, pool] : pools_) out.push_back(info_of(*pool));
  return out;
}

StatusOr<PoolRecord> Registry::get(const std::string& name) {
  if (Status s = validate_pool_name(name); !s.ok()) return s;
  std::lock_guard<std::mutex> lock(mu_);
  auto it = pools_.find(name);
  if (it == pools_.end()) return not_found("no pool named '" + name + "'");
  return info_of(*it->second);
}

Status Registry::remove(const std::string& name, bool force, const Caller& caller) {
  if (Status s = validate_pool_name(name); !s.ok()) return s;
  std::lock_guard<std::mutex> lock(mu_);
  auto it = pools_.find(name);
  if (it == pools_.end()) return not_found("no pool named '" + name + "'");
  Pool& pool = *it->second;
  if (!caller.may_manage(pool.owner_uid)) {
    return Status(StatusCode::kPermissionDenied,
                  "pool '" + name + "' belongs to uid " + std::to_string(pool.owner_uid) +
                      "; only that user, root or the daemon's admin group may delete it "
                      "(caller: " + caller.to_string() + ")");
  }
  if (pool.holder) {
    if (!force) {
      return failed_precondition("pool '" + name + "' is held by producer pid " +
                                 std::to_string(pool.producer_pid) +
                                 "; stop it first, or delete with force to end its lease");
    }
    std::shared_ptr<LeaseHolder> holder = std::move(pool.holder);
    leases_.erase(holder.get());
    {
      std::lock_guard<std::mutex> fan(pool.fanout_mu);
      broadcast(name, gone_event(pool.producer_pid, false));
    }
    holder->revoke(
        Status(StatusCode::kAborted, "pool '" + name + "' was deleted (DeletePool with force)"));
    spdlog::info("pool '{}': lease of pid {} revoked by DeletePool", name, pool.producer_pid);
    pool.producer_pid = 0;
  }
  erase_pool(it, "deleted (DeletePool)");
  spdlog::info("pool '{}' deleted", name);
  return {};
}

void Registry::announce_all() {
  std::vector<std::shared_ptr<Pool>> pools;
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (auto& [id, pool] : watched_) pools.push_back(pool);
  }
  for (const auto& pool : pools) {
    std::lock_guard<std::mutex> fan(pool->fanout_mu);
    if (!pool->erased) announce(*pool);
  }
}

void Registry::on_wake(uint64_t id) {
  std::shared_ptr<Pool> pool;
  bool bulk = false;
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = watched_.find(id);
    if (it == watched_.end()) return;
    pool = it->second;
    // An announce costs a wake-up for each subscriber waiting for a frame;
    // the others (busy writing, or not reading at all) cost nothing. Many
    // waiting go to the bulk thread; few are announced here, which spares
    // the pools this thread watches a hand-off per frame (a flood of 2,000
    // never-reading streams kept the bulk thread waking 1,000 times a second
    // to find nobody waiting, and pool B's frames coming at the same
    // instants waited for those wake-ups).
    bulk = pool->frame_subscribers > kBulkSubscribers && pool->feed->waiting() > kBulkSubscribers;
  }
  if (bulk) {
    // Queued once: its announce covers every frame written before it runs.
    Pool* key = pool.get();
    bulk_.post(key, [pool = std::move(pool)] {
      std::lock_guard<std::mutex> fan(pool->fanout_mu);
      if (!pool->erased) announce(*pool);
    });
    return;
  }
  // The registry is free meanwhile: claims, queries and other pools'
  // fan-outs go on.
  std::lock_guard<std::mutex> fan(pool->fanout_mu);
  if (!pool->erased) announce(*pool);
}

void Registry::update_watch(const std::shared_ptr<Pool>& p) {
  Pool& pool = *p;
  const bool want = pool.frame_subscribers > 0 && !closed_;
  if (want == (pool.watch_id != 0)) return;
  if (want) {
    // Nobody was told of the frames before: the watch starts from here.
    pool.latest_seq = std::max(pool.latest_seq, pool.header_latest_seq());
    pool.watch_id = ++next_watch_id_;
    watched_[pool.watch_id] = p;
    watcher_.watch(pool.watch_id, pool.segment);
  } else {
    watched_.erase(pool.watch_id);
    watcher_.unwatch(pool.watch_id);
    pool.watch_id = 0;
  }
}

void Registry::announce(Pool& pool) {
  const uint64_t latest = pool.header_latest_seq();
  if (latest <= pool.latest_seq) return;
  // The subscribers read the frames' stamps from the ring themselves, as
  // many as each keeps (whatever the header says: a producer may write
  // anything there, and the work stays bounded by what they keep).
  pool.feed->announce(latest);
  pool.latest_seq = latest;
  pool.observe(monotonic_ns());
}

void Registry::shutdown() {
  std::lock_guard<std::mutex> lock(mu_);
  closed_ = true;
  for (auto& [name, pool] : pools_) {
    std::lock_guard<std::mutex> fan(pool->fanout_mu);
    announce(*pool);
    update_watch(pool);  // closed: stops watching
  }
  const Status bye = unavailable("tensor-ipcd is shutting down");
  for (auto& [name, pool] : pools_) {
    if (!pool->holder) continue;
    pool->holder->revoke(bye);
    pool->holder.reset();
    pool->producer_pid = 0;
    pool->set_producer_pid(0);
  }
  leases_.clear();
  for (auto& [raw, sub] : subscribers_) sub.sink->close(bye);
}

PoolRecord Registry::info_of(Pool& pool) {
  std::lock_guard<std::mutex> fan(pool.fanout_mu);
  pool.observe(monotonic_ns());
  PoolRecord info;
  info.metadata = pool.metadata;
  info.layout = pool.segment->layout();
  info.cuda = pool.cuda;
  PoolStats& st = info.stats;
  st.latest_seq = std::max(pool.latest_seq, pool.header_latest_seq());
  st.frames_published = st.latest_seq >= pool.base_seq ? st.latest_seq - pool.base_seq : 0;
  st.rate_hz = pool.rate.rate_hz(monotonic_ns());
  st.producer_pid = pool.producer_pid;
  st.created_unix_ns = pool.segment->header().created_unix_ns;
  st.last_publish_unix_ns = pool.last_publish_unix_ns;
  st.dropped = pool.departed_drops;
  st.owner_uid = pool.owner_uid;
  for (auto [it, end] = subscribers_by_name_.equal_range(pool.metadata.name); it != end; ++it) {
    SubscriberStats s = it->second->stats();
    const Subscriber& sub = subscribers_.at(it->second);
    s.pid = sub.pid;
    s.lifecycle_only = !sub.frames;
    st.dropped += s.dropped;
    st.subscriber.push_back(s);
  }
  st.subscribers = static_cast<uint32_t>(st.subscriber.size());
  return info;
}

std::shared_ptr<const PoolEvent> Registry::attached_event(const Pool& pool) const {
  auto ev = std::make_shared<PoolEvent>();
  ev->kind = PoolEvent::Kind::kAttached;
  ev->metadata = pool.metadata;
  ev->layout = pool.segment->layout();
  ev->producer_pid = pool.producer_pid;
  ev->latest_seq = std::max(pool.latest_seq, pool.header_latest_seq());
  ev->memory = pool.segment;
  ev->cuda = pool.cuda;
  return ev;
}

void Registry::broadcast(const std::string& name, const std::shared_ptr<const PoolEvent>& ev) {
  for (auto [it, end] = subscribers_by_name_.equal_range(name); it != end; ++it) {
    it->second->push_lifecycle(ev);
  }
}

void Registry::broadcast_attached(const Pool& pool) {
  const auto ev = attached_event(pool);
  for (auto [it, end] = subscribers_by_name_.equal_range(pool.metadata.name); it != end; ++it) {
    if (subscribers_.at(it->second).frames) it->second->follow(pool.feed, ev->latest_seq);
    it->second->push_lifecycle(ev);
  }
}

bool Registry::evict_kept_pool(const std::string& for_pool, const std::string& limit) {
  auto victim = pools_.end();
  for (auto it = pools_.begin(); it != pools_.end(); ++it) {
    if (it->second->holder || it->first == for_pool) continue;
    if (victim == pools_.end() || it->second->left_at_ns < victim->second->left_at_ns) {
      victim = it;
    }
  }
  if (victim == pools_.end()) return false;
  const Pool& pool = *victim->second;
  const double idle_s = static_cast<double>(monotonic_ns() - pool.left_at_ns) / 1e9;
  spdlog::warn("pool '{}' evicted to make room for pool '{}' ({}): kept without a producer for "
               "{:.1f} s, {} bytes, {} subscriber(s), latest_seq {}",
               victim->first, for_pool, limit, idle_s, pool.segment->layout().segment_size,
               pool.subscribers, pool.header_latest_seq());
  erase_pool(victim, "evicted to make room for pool '" + for_pool + "' (" + limit +
                         "): it had no producer, and was the one left longest ago");
  return true;
}

void Registry::erase_pool(std::map<std::string, std::shared_ptr<Pool>>::iterator it,
                          const std::string& reason) {
  const std::shared_ptr<Pool> keep = it->second;  // outlives the lock below
  Pool& pool = *keep;
  std::lock_guard<std::mutex> fan(pool.fanout_mu);
  announce(pool);
  pool.erased = true;
  if (pool.watch_id != 0) {
    watched_.erase(pool.watch_id);
    watcher_.unwatch(pool.watch_id);
  }
  broadcast(it->first, removed_event(reason));
  pools_.erase(it);
}

}  // namespace tensoripc::daemon
