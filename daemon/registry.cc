#include "daemon/registry.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <utility>

#include "common/clock.h"
#include "common/pool_identity.h"
#include "common/shm.h"

namespace tensoripc::daemon {
namespace {

// Enough for every process of a busy machine; a bound so that a runaway
// client cannot grow the daemon without limit.
constexpr size_t kMaxSubscriptions = 65536;

Status unavailable(std::string m) { return Status(StatusCode::kUnavailable, std::move(m)); }

std::shared_ptr<const v1::SubscribeEvent> waiting_event() {
  auto ev = std::make_shared<v1::SubscribeEvent>();
  ev->mutable_waiting();
  return ev;
}

std::shared_ptr<const v1::SubscribeEvent> gone_event(int32_t pid, bool kept) {
  auto ev = std::make_shared<v1::SubscribeEvent>();
  ev->mutable_producer_gone()->set_pid(pid);
  ev->mutable_producer_gone()->set_pool_kept(kept);
  return ev;
}

std::shared_ptr<const v1::SubscribeEvent> removed_event(const std::string& reason) {
  auto ev = std::make_shared<v1::SubscribeEvent>();
  ev->mutable_removed()->set_reason(reason);
  return ev;
}

}  // namespace

Registry::Registry(RegistryOptions options) : options_(std::move(options)) {}

Registry::~Registry() = default;

AdoptionReport Registry::adopt_leftovers() {
  std::lock_guard<std::mutex> lock(mu_);
  AdoptionReport report;
  for (const std::string& shm_name : list_segments(options_.shm_prefix)) {
    v1::PoolMetadata md;
    auto seg = PoolSegment::adopt(shm_name, options_.shm_prefix, &md);
    if (!seg.ok()) {
      spdlog::warn("removing leftover segment {}: {}", shm_name, seg.status().message());
      ShmFile::unlink(shm_name);
      ++report.removed;
      continue;
    }
    if (pools_.size() >= options_.max_pools) {
      spdlog::warn("removing leftover segment {}: over --max-pools={}", shm_name,
                   options_.max_pools);
      seg->unlink();
      ++report.removed;
      continue;
    }
    auto pool = std::make_unique<Pool>();
    pool->segment = std::move(*seg);
    pool->latest_seq = pool->segment.latest_seq();
    pool->metadata = std::move(md);
    spdlog::info("adopted pool '{}' ({} {}, history_len {}, latest_seq {}) from {}",
                 pool->metadata.name(), pool->metadata.dtype_str(), shape_string(pool->metadata),
                 pool->metadata.history_len(), pool->latest_seq, shm_name);
    const std::string name = pool->metadata.name();
    pools_.emplace(name, std::move(pool));
    ++report.adopted;
  }
  return report;
}

StatusOr<v1::PoolGranted> Registry::claim(const v1::ClaimPool& claim,
                                          std::shared_ptr<LeaseHolder> holder) {
  v1::PoolMetadata md = claim.metadata();
  if (Status s = validate_and_complete(&md, PoolLimits{options_.max_pool_bytes}); !s.ok()) {
    return s;
  }
  const std::string& name = md.name();
  if (claim.pid() <= 0) {
    return invalid_argument("pool '" + name + "': ClaimPool.pid is " + std::to_string(claim.pid()) +
                            "; it must be the producer's process id");
  }

  std::unique_lock<std::mutex> lock(mu_);
  if (closed_) return unavailable("tensor-ipcd is shutting down");
  if (auto creating = creating_.find(name); creating != creating_.end()) {
    return already_exists("topic '" + name + "' is being claimed by pid " +
                          std::to_string(creating->second));
  }
  if (auto held = leases_.find(holder.get()); held != leases_.end()) {
    return failed_precondition("this session already holds pool '" + held->second +
                               "'; open another ProducerSession for pool '" + name + "'");
  }
  auto it = pools_.find(name);
  bool resumed = false;
  if (it != pools_.end()) {
    Pool& pool = *it->second;
    if (pool.holder) {
      return already_exists("topic '" + name + "' is already published by pid " +
                            std::to_string(pool.producer_pid));
    }
    if (same_identity(md, pool.metadata)) {
      resumed = true;
      // Not part of the identity, and they belong to the producer now holding it.
      pool.metadata.set_backend_type(md.backend_type());
      pool.metadata.set_payload_json(md.payload_json());
    } else {
      const std::string why = "replaced by a pool of another identity (" +
                              describe_identity_mismatch(md, pool.metadata) + ")";
      spdlog::info("pool '{}' {}", name, why);
      erase_pool(it, why);
      it = pools_.end();
    }
  }
  if (!resumed) {
    if (pools_.size() + creating_.size() >= options_.max_pools) {
      return resource_exhausted("pool '" + name + "': the daemon already holds " +
                                std::to_string(pools_.size() + creating_.size()) +
                                " pools, its limit (--max-pools); delete unused ones with "
                                "DeletePool");
    }
    md.set_shm_name(segment_name(options_.shm_prefix, name));
    md.set_creator_pid(claim.pid());
    // Create the segment without the lock: posix_fallocate of a large pool
    // takes ~0.25 s per GiB here, and publishes of every other pool must not
    // wait for it. The name is reserved meanwhile.
    creating_.emplace(name, claim.pid());
    lock.unlock();
    auto seg = PoolSegment::create(md.shm_name(), md, options_.shm_mode);
    lock.lock();
    creating_.erase(name);
    if (!seg.ok()) {
      return Status(seg.status().code(), "pool '" + name + "': " + seg.status().message());
    }
    if (closed_) {
      seg->unlink();
      return unavailable("tensor-ipcd is shutting down");
    }
    auto pool = std::make_unique<Pool>();
    pool->metadata = md;
    pool->segment = std::move(*seg);
    it = pools_.emplace(name, std::move(pool)).first;
  }

  Pool& pool = *it->second;
  pool.holder = std::move(holder);
  pool.producer_pid = claim.pid();
  pool.segment.set_producer_pid(claim.pid());
  pool.latest_seq = std::max(pool.latest_seq, pool.segment.latest_seq());
  leases_[pool.holder.get()] = name;

  v1::PoolGranted granted;
  *granted.mutable_metadata() = pool.metadata;
  pool.segment.layout_proto(granted.mutable_layout());
  granted.set_resumed(resumed);
  granted.set_latest_seq(pool.latest_seq);
  broadcast(name, attached_event(pool));
  spdlog::info("pool '{}' {} by pid {} ({} {}, history_len {}, {} bytes, latest_seq {})", name,
               resumed ? "resumed" : "created", claim.pid(), pool.metadata.dtype_str(),
               shape_string(pool.metadata), pool.metadata.history_len(), pool.metadata.total_size(),
               pool.latest_seq);
  return granted;
}

Status Registry::publish(const LeaseHolder* holder, const v1::Published& notice) {
  std::lock_guard<std::mutex> lock(mu_);
  auto lease = leases_.find(holder);
  if (lease == leases_.end()) {
    return Status(StatusCode::kAborted, "this session holds no pool (its lease ended)");
  }
  const std::string& name = lease->second;
  Pool& pool = *pools_.at(name);
  if (notice.seq() <= pool.latest_seq) {
    return invalid_argument("pool '" + name + "': Published seq " + std::to_string(notice.seq()) +
                            " is not above the last one, " + std::to_string(pool.latest_seq));
  }
  const uint32_t slot = static_cast<uint32_t>(notice.seq() % pool.metadata.history_len());
  if (notice.slot() != slot) {
    return invalid_argument("pool '" + name + "': Published seq " + std::to_string(notice.seq()) +
                            " belongs in slot " + std::to_string(slot) + ", not " +
                            std::to_string(notice.slot()));
  }
  pool.latest_seq = notice.seq();
  ++pool.frames_published;
  pool.last_publish_unix_ns = realtime_ns();
  pool.rate.record(monotonic_ns());
  const FrameNotice frame{notice.seq(), notice.slot(), notice.timestamp_ns()};
  for (auto [it, end] = subscribers_by_name_.equal_range(name); it != end; ++it) {
    it->second->push_frame(frame);
  }
  return {};
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
  const int32_t pid = pool.producer_pid;
  pool.holder.reset();
  pool.producer_pid = 0;
  pool.segment.set_producer_pid(0);
  const bool keep = options_.retention == Retention::kKeep;
  broadcast(name, gone_event(pid, keep));
  spdlog::info("pool '{}': producer pid {} left; pool {}", name, pid, keep ? "kept" : "removed");
  if (!keep) {
    erase_pool(it, "its producer (pid " + std::to_string(pid) +
                       ") left and the daemon runs with --retention remove");
  }
}

Status Registry::subscribe(const std::string& name, int32_t pid, std::shared_ptr<EventSink> sink) {
  if (Status s = validate_pool_name(name); !s.ok()) return s;
  std::lock_guard<std::mutex> lock(mu_);
  if (closed_) return unavailable("tensor-ipcd is shutting down");
  if (subscriptions_.size() >= kMaxSubscriptions) {
    return resource_exhausted("the daemon already serves " + std::to_string(kMaxSubscriptions) +
                              " subscriptions");
  }
  EventSink* raw = sink.get();
  subscriptions_[raw] = Subscription{name, pid, std::move(sink)};
  subscribers_by_name_.emplace(name, raw);
  auto it = pools_.find(name);
  raw->push_lifecycle(it != pools_.end() ? attached_event(*it->second) : waiting_event());
  return {};
}

void Registry::unsubscribe(const EventSink* sink) {
  std::lock_guard<std::mutex> lock(mu_);
  auto sub = subscriptions_.find(sink);
  if (sub == subscriptions_.end()) return;
  const std::string& name = sub->second.name;
  if (auto pool = pools_.find(name); pool != pools_.end()) {
    v1::SubscriberStats stats;
    sub->second.sink->stats(&stats);
    pool->second->departed_drops += stats.dropped();
  }
  for (auto [it, end] = subscribers_by_name_.equal_range(name); it != end; ++it) {
    if (it->second == sink) {
      subscribers_by_name_.erase(it);
      break;
    }
  }
  subscriptions_.erase(sub);
}

std::vector<v1::PoolInfo> Registry::list() const {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<v1::PoolInfo> out(pools_.size());
  size_t i = 0;
  for (const auto& [name, pool] : pools_) fill_info(*pool, &out[i++]);
  return out;
}

StatusOr<v1::PoolInfo> Registry::get(const std::string& name) const {
  if (Status s = validate_pool_name(name); !s.ok()) return s;
  std::lock_guard<std::mutex> lock(mu_);
  auto it = pools_.find(name);
  if (it == pools_.end()) return not_found("no pool named '" + name + "'");
  v1::PoolInfo info;
  fill_info(*it->second, &info);
  return info;
}

Status Registry::remove(const std::string& name, bool force) {
  if (Status s = validate_pool_name(name); !s.ok()) return s;
  std::lock_guard<std::mutex> lock(mu_);
  auto it = pools_.find(name);
  if (it == pools_.end()) return not_found("no pool named '" + name + "'");
  Pool& pool = *it->second;
  if (pool.holder) {
    if (!force) {
      return failed_precondition("pool '" + name + "' is held by producer pid " +
                                 std::to_string(pool.producer_pid) +
                                 "; stop it first, or delete with force to end its lease");
    }
    std::shared_ptr<LeaseHolder> holder = std::move(pool.holder);
    leases_.erase(holder.get());
    broadcast(name, gone_event(pool.producer_pid, false));
    holder->revoke(
        Status(StatusCode::kAborted, "pool '" + name + "' was deleted (DeletePool with force)"));
    spdlog::info("pool '{}': lease of pid {} revoked by DeletePool", name, pool.producer_pid);
    pool.producer_pid = 0;
  }
  erase_pool(it, "deleted (DeletePool)");
  spdlog::info("pool '{}' deleted", name);
  return {};
}

void Registry::shutdown() {
  std::lock_guard<std::mutex> lock(mu_);
  closed_ = true;
  const Status bye = unavailable("tensor-ipcd is shutting down");
  for (auto& [name, pool] : pools_) {
    if (!pool->holder) continue;
    pool->holder->revoke(bye);
    pool->holder.reset();
    pool->producer_pid = 0;
    pool->segment.set_producer_pid(0);
  }
  leases_.clear();
  for (auto& [raw, sub] : subscriptions_) sub.sink->close(bye);
}

void Registry::finish_segments() {
  std::lock_guard<std::mutex> lock(mu_);
  for (auto& [name, pool] : pools_) {
    pool->segment.set_producer_pid(0);
    if (options_.retention == Retention::kRemove) pool->segment.unlink();
  }
  if (options_.retention == Retention::kRemove) pools_.clear();
}

void Registry::fill_info(const Pool& pool, v1::PoolInfo* out) const {
  *out->mutable_metadata() = pool.metadata;
  pool.segment.layout_proto(out->mutable_layout());
  v1::PoolStats* st = out->mutable_stats();
  st->set_frames_published(pool.frames_published);
  st->set_latest_seq(std::max(pool.latest_seq, pool.segment.latest_seq()));
  st->set_rate_hz(pool.rate.rate_hz(monotonic_ns()));
  st->set_producer_pid(pool.producer_pid);
  st->set_created_unix_ns(pool.segment.created_unix_ns());
  st->set_last_publish_unix_ns(pool.last_publish_unix_ns);
  uint64_t dropped = pool.departed_drops;
  uint32_t count = 0;
  for (auto [it, end] = subscribers_by_name_.equal_range(pool.metadata.name()); it != end; ++it) {
    v1::SubscriberStats* s = st->add_subscriber();
    it->second->stats(s);
    s->set_pid(subscriptions_.at(it->second).pid);
    dropped += s->dropped();
    ++count;
  }
  st->set_subscribers(count);
  st->set_dropped(dropped);
}

std::shared_ptr<const v1::SubscribeEvent> Registry::attached_event(const Pool& pool) const {
  auto ev = std::make_shared<v1::SubscribeEvent>();
  v1::PoolAttached* a = ev->mutable_attached();
  *a->mutable_metadata() = pool.metadata;
  pool.segment.layout_proto(a->mutable_layout());
  a->set_producer_pid(pool.producer_pid);
  a->set_latest_seq(std::max(pool.latest_seq, pool.segment.latest_seq()));
  return ev;
}

void Registry::broadcast(const std::string& name,
                         const std::shared_ptr<const v1::SubscribeEvent>& ev) {
  for (auto [it, end] = subscribers_by_name_.equal_range(name); it != end; ++it) {
    it->second->push_lifecycle(ev);
  }
}

void Registry::erase_pool(std::map<std::string, std::unique_ptr<Pool>>::iterator it,
                          const std::string& reason) {
  broadcast(it->first, removed_event(reason));
  it->second->segment.unlink();
  pools_.erase(it);
}

}  // namespace tensoripc::daemon
