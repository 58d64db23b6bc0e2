// The daemon's registry: pools, producer leases, subscriptions and stats.
// All the broker's decisions live here, in plain C++ (no gRPC, no protobuf),
// so they are unit-tested directly; the gRPC streams plug in through two
// small interfaces, and proto/wire.h turns what comes in and out into messages.
//
// A Registry owns every pool's memory (a PoolMapping in the broker role). It
// holds shared references to the streams' EventSink and LeaseHolder objects,
// never to the gRPC reactors themselves, and forgets them when they release
// or unsubscribe. Thread-safe: one mutex serialises every call, and each pool
// has a second one for its frame fan-out, so that announcing one pool's
// frames (to thousands of subscribers, perhaps) holds neither the registry
// nor any other pool. Callbacks into sinks and holders are made with one or
// both held, so they must not block and must not call back into the
// Registry.
//
// Frames are learnt from the pools themselves: a FrameWatcher sleeps on the
// futex word of every pool that has subscribers wanting frame events, and
// the registry reads latest_seq as a consumer does and announces it on the
// pool's FrameFeed, from which the subscribers take the frames (their stamps
// read from the slot headers) at their own pace. Producers send nothing per
// frame.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "common/shm.h"
#include "common/status.h"
#include "daemon/caller.h"
#include "daemon/frame_feed.h"
#include "daemon/frame_watcher.h"
#include "daemon/keyed_worker.h"
#include "daemon/rate_meter.h"
#include "pool/broker.h"
#include "pool/mapping.h"
#include "pool/model.h"
#include "pool/ring.h"

namespace tensoripc::daemon {

// What becomes of a pool whose producer left.
enum class Retention {
  kKeep,    // kept while the daemon runs: a producer with the same metadata resumes it
  kRemove,  // removed at once
};

// The registry's settings, with the daemon's defaults (daemon/config.h reads
// them from flags and the config file).
struct RegistryOptions {
  // Pool memory is labelled "<prefix><pool name>" (memfd:<label> in
  // /proc/PID/maps): a label for people, not a name anyone can open.
  std::string shm_prefix = "tensoripc.";
  uint32_t max_pools = 256;
  uint64_t max_pool_bytes = kDefaultMaxPoolBytes;  // all history_len frames of one pool
  // The memory of all pools together (kept ones included): a claim that
  // would go past it is RESOURCE_EXHAUSTED. 0: half of the machine's
  // physical memory, where pool memory (shmem) lives.
  uint64_t max_total_bytes = 0;
  Retention retention = Retention::kKeep;
  // How the daemon sleeps on the pools' futex words (kPerPool: kernels
  // before 5.16, and the tests of that path).
  FrameWatcher::Mode watch_mode = FrameWatcher::Mode::kAuto;
};

// Where one subscription's events go (the Subscribe stream; tests record them).
class EventSink {
 public:
  virtual ~EventSink() = default;
  // Frame events from now on are `feed`'s frames after `after` (a subscriber
  // that wants frame events, before each kAttached: the pool's feed, and the
  // kAttached's latest_seq). The sink takes them at its own pace, and waits
  // on the feed when it has none (FrameFeed::wait).
  virtual void follow(std::shared_ptr<FrameFeed> feed, uint64_t after) = 0;
  virtual void push_lifecycle(std::shared_ptr<const PoolEvent> event) = 0;
  // Ends the subscription from the daemon's side (shutdown).
  virtual void close(const Status& status) = 0;
  // keep_last, delivered, dropped, queued (pid is filled in by the Registry).
  virtual SubscriberStats stats() const = 0;
};

// The other end of a producer's lease (the ProducerSession stream).
class LeaseHolder {
 public:
  virtual ~LeaseHolder() = default;
  // The daemon ends the lease (DeletePool with force, shutdown); the lease is
  // already gone from the registry when this is called.
  virtual void revoke(const Status& why) = 0;
};

class Registry {
 public:
  explicit Registry(RegistryOptions options);
  ~Registry();
  Registry(const Registry&) = delete;
  Registry& operator=(const Registry&) = delete;

  const RegistryOptions& options() const { return options_; }
  // options().max_total_bytes with 0 ("auto") resolved.
  uint64_t max_total_bytes() const { return max_total_bytes_; }

  // ---- producers. A lease is identified by its holder.

  // Validates the claim of `caller` and grants the pool: created, resumed
  // (same identity: history and latest_seq kept) or replaced (another
  // identity, no producer). ALREADY_EXISTS, with the holder's pid as a
  // detail, when it is held; PERMISSION_DENIED when another user owns it.
  // A GPU pool's claim carries its device memory (check_cuda_memory); the
  // registry stores it, hands it to subscribers and shows it, and drops the
  // pool when its producer leaves (the memory is the producer's).
  // `handed_back`, when given and no pool of that name exists (a restarted
  // daemon), is the producer's memory of the pool: once checked, the pool
  // carries on in it, history and generation kept; if it fails the checks it
  // is logged and dropped, and the pool is created anew.
  StatusOr<Grant> claim(const Claim& claim, const Caller& caller,
                        std::shared_ptr<LeaseHolder> holder, ShmFile* handed_back = nullptr);
  // The holder's stream ended; a no-op if it holds no lease (any more). The
  // frames it wrote before are announced first.
  void release(const LeaseHolder* holder);

  // ---- subscribers. A subscription is identified by its sink.

  // Registers `sink` for `name` and queues its first event (kAttached or
  // kWaiting). While a pool has subscribers its header's futex_waiters is
  // raised (consumers cannot write it), so its producer wakes them. With
  // `frames` the sink gets a frame event for every new frame after its
  // kAttached's latest_seq; without, lifecycle events only (a consumer that
  // waits on the pool's futex itself).
  Status subscribe(const std::string& name, const Caller& caller, std::shared_ptr<EventSink> sink,
                   bool frames = true);
  // The sink's stream ended; a no-op if it is not subscribed.
  void unsubscribe(const EventSink* sink);

  // ---- queries

  std::vector<PoolRecord> list();
  StatusOr<PoolRecord> get(const std::string& name);
  // Forgets the pool (its memory goes once its last mapping does); a held
  // pool needs `force`, which revokes the lease with ABORTED. Only the
  // owner, root and the admin group may (PERMISSION_DENIED).
  Status remove(const std::string& name, bool force, const Caller& caller);

  // Announces the new frames of every watched pool now, as the watcher does
  // when a pool's word moves (tests, and anyone who cannot wait for it).
  void announce_all();

  // ---- shutdown

  // Ends every lease and subscription with UNAVAILABLE and refuses new ones.
  // Producers keep their memory and hand it to the next daemon.
  void shutdown();

 private:
  struct Subscriber {
    std::string name;
    int32_t pid = 0;
    bool frames = true;  // wants frame events
    std::shared_ptr<EventSink> sink;
  };

  // A pool. Its fan-out state (the block under fanout_mu) is touched only
  // with fanout_mu held, taken after mu_ where both are; the rest only under
  // mu_.
  struct Pool {
    PoolMetadata metadata;                 // completed: sizes, shm_name, creator_pid
    CudaMemory cuda;                       // a GPU pool's device memory, as its producer exported it
    std::shared_ptr<PoolMapping> segment;  // header and slot headers
    std::shared_ptr<FrameFeed> feed;       // its frames as announced, for frame subscribers
    std::shared_ptr<LeaseHolder> holder;   // null when no producer
    int32_t producer_pid = 0;
    uint32_t owner_uid = 0;    // the creator's user
    uint32_t subscribers = 0;  // mirrored into the header's futex_waiters
    uint32_t frame_subscribers = 0;  // of them, those wanting frame events
    uint64_t watch_id = 0;           // the FrameWatcher's id while it watches the pool
    uint64_t base_seq = 0;    // latest_seq when this daemon got the pool
    uint64_t departed_drops = 0;  // drops of subscribers that left
    int64_t left_at_ns = 0;       // monotonic: when its producer left (kept pools)

    std::mutex fanout_mu;
    uint64_t latest_seq = 0;  // the last seq announced (or, unwatched, seen)
    int64_t last_publish_unix_ns = 0;
    // The rate, from latest_seq as seen at each look (announce or query).
    RateMeter rate;
    uint64_t rate_seq = 0;
    int64_t rate_at_ns = 0;
    bool erased = false;  // gone from the registry: nothing more is announced

    uint64_t header_latest_seq() const;
    void set_producer_pid(int32_t pid);
    void publish_waiters();
    // Feeds the rate and the last publish time with what the header says now.
    void observe(int64_t now_ns);
  };

  PoolRecord info_of(Pool& pool);
  // Announces the frames written since pool.latest_seq on its feed, which
  // wakes the frame subscribers waiting for one (the others take them when
  // their write ends). pool.fanout_mu held.
  static void announce(Pool& pool);
  // The watcher called: `id` moved. A pool with few frame subscribers
  // waiting for a frame is announced right there; one with more than
  // kBulkSubscribers waiting is handed to the bulk fan-out thread, so that
  // waking them all never holds up the other pools a watcher thread sleeps on.
  void on_wake(uint64_t id);
  // Starts or stops watching as the pool's frame subscribers come and go.
  // mu_ and pool.fanout_mu held.
  void update_watch(const std::shared_ptr<Pool>& pool);
  // pool.fanout_mu held.
  std::shared_ptr<const PoolEvent> attached_event(const Pool& pool) const;
  void broadcast(const std::string& name, const std::shared_ptr<const PoolEvent>& ev);
  // The pool's kAttached to every subscriber of its name, its frame
  // subscribers following its feed from the event's latest_seq. mu_ and
  // pool.fanout_mu held.
  void broadcast_attached(const Pool& pool);
  // Removes the kept pool (no producer) whose producer left longest ago,
  // other than `for_pool`, to make room for a claim of `for_pool` under
  // `limit`; logs it and tells its subscribers why. False if there is none.
  bool evict_kept_pool(const std::string& for_pool, const std::string& limit);
  // Drops the pool and tells its subscribers why.
  void erase_pool(std::map<std::string, std::shared_ptr<Pool>>::iterator it,
                  const std::string& reason);

  const RegistryOptions options_;
  mutable std::mutex mu_;  // guards everything below
  bool closed_ = false;
  std::map<std::string, std::shared_ptr<Pool>> pools_;
  std::map<const LeaseHolder*, std::string> leases_;  // holder -> pool name
  std::map<const EventSink*, Subscriber> subscribers_;
  // Names whose segment a claim is creating right now, outside mu_ (reserving
  // space for a large pool takes a while and must not stall every other
  // pool's fan-out), with the claimant's pid. Counted against max_pools.
  std::map<std::string, int32_t> creating_;
  uint64_t creating_bytes_ = 0;  // the memory those claims are creating
  uint64_t max_total_bytes_;     // options_.max_total_bytes, resolved
  std::multimap<std::string, EventSink*> subscribers_by_name_;
  std::map<uint64_t, std::shared_ptr<Pool>> watched_;  // watch id -> pool
  uint64_t next_watch_id_ = 0;

  static constexpr uint32_t kBulkSubscribers = 64;
  // The bulk fan-out thread, at nice +10: behind the frame watchers (+5)
  // that announce the other pools' frames.
  KeyedWorker bulk_{10};
  // Last: stopped first (~Registry), while everything it calls back into lives.
  FrameWatcher watcher_;
};

}  // namespace tensoripc::daemon
