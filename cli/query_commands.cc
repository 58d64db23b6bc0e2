// ls, info, rm, watch, socket, doctor: what the daemon says, no pool memory.
#include <grp.h>
#include <pwd.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <algorithm>
#include <map>
#include <thread>
#include <vector>

#include "commands.h"
#include "format.h"
#include "json.h"
#include "tensoripc/tensoripc.h"

namespace tensoripc::cli {
namespace {

void print(const std::string& text) { std::fputs(text.c_str(), stdout); }
void print_line(const std::string& text) { std::printf("%s\n", text.c_str()); }

void pool_json(Json& j, const PoolInfo& p) {
  const PoolMetadata& md = p.metadata;
  const PoolStats& s = p.stats;
  j.begin_object();
  j.field("name", md.name);
  j.key("shape").array(md.shape);
  j.field("dtype", std::string(md.dtype_str()));
  j.field("history_len", md.history_len);
  j.field("device", md.device);
  j.field("backend_type", md.backend_type);
  j.field("frame_bytes", md.frame_bytes());
  j.field("total_size", md.total_size);
  j.field("shm_name", md.shm_name);
  j.field("creator_pid", md.creator_pid);
  j.key("layout").begin_object();
  j.field("generation", p.layout.generation);
  j.field("frame_size", p.layout.frame_size);
  j.field("slot_stride", p.layout.slot_stride);
  j.field("slot_count", p.layout.slot_count);
  j.field("segment_size", p.layout.segment_size);
  if (!p.layout.cuda_sharing.empty()) {
    j.field("cuda_sharing", p.layout.cuda_sharing);
    j.field("cuda_allocation_size", p.layout.cuda_allocation_size);
  }
  j.end_object();
  j.key("stats").begin_object();
  j.field("producer_pid", s.producer_pid);
  j.field("owner_uid", s.owner_uid);
  j.field("frames_published", s.frames_published);
  j.field("latest_seq", s.latest_seq);
  j.field("rate_hz", s.rate_hz);
  j.field("subscribers", s.subscribers);
  j.field("dropped", s.dropped);
  j.field("created", format_time(s.created_unix_ns));
  j.field("created_unix_ns", static_cast<long long>(s.created_unix_ns));
  j.key("last_publish");
  if (s.last_publish_unix_ns == 0) {
    j.null();
  } else {
    j.value(format_time(s.last_publish_unix_ns));
  }
  j.field("last_publish_unix_ns", static_cast<long long>(s.last_publish_unix_ns));
  j.key("subscriber").begin_array();
  for (const SubscriberStats& sub : s.subscriber) {
    j.begin_object();
    j.field("pid", sub.pid);
    j.field("notify", sub.lifecycle_only ? "futex" : "stream");
    j.field("keep_last", sub.keep_last);
    j.field("delivered", sub.delivered);
    j.field("dropped", sub.dropped);
    j.field("queued", sub.queued);
    j.end_object();
  }
  j.end_array();
  j.end_object();
  j.end_object();
}

std::string producer_cell(const PoolStats& s) {
  return s.producer_pid != 0 ? std::to_string(s.producer_pid) : "-";
}

std::string user_name(uint32_t uid) {
  if (const passwd* pw = ::getpwuid(uid)) return std::string(pw->pw_name) + " (" + std::to_string(uid) + ")";
  return std::to_string(uid);
}

std::string group_name(gid_t gid) {
  if (const group* gr = ::getgrgid(gid)) return gr->gr_name;
  return std::to_string(gid);
}

}  // namespace

int run_ls(const Common& c) {
  DaemonClient daemon(c.socket, std::chrono::milliseconds(c.timeout_ms));
  const std::vector<PoolInfo> pools = daemon.list_pools();
  if (c.json) {
    Json j;
    j.begin_object().key("pools").begin_array();
    for (const PoolInfo& p : pools) pool_json(j, p);
    j.end_array().end_object();
    print_line(j.str());
    return 0;
  }
  if (pools.empty()) {
    print_line("no pools (tensor-ipcd at " + daemon.socket_path() + ")");
    return 0;
  }
  Table t({"NAME", "SHAPE", "DTYPE", "HISTORY", "DEVICE", "PRODUCER", "RATE", "SUBS", "DROPPED"});
  for (const PoolInfo& p : pools) {
    const PoolStats& s = p.stats;
    t.add({p.metadata.name, format_shape(p.metadata.shape), std::string(p.metadata.dtype_str()),
           std::to_string(p.metadata.history_len), p.metadata.device, producer_cell(s),
           s.producer_pid != 0 ? strprintf("%.1f Hz", s.rate_hz) : "-",
           std::to_string(s.subscribers), std::to_string(s.dropped)});
  }
  print(t.str());
  return 0;
}

int run_info(const Common& c, const std::string& name) {
  DaemonClient daemon(c.socket, std::chrono::milliseconds(c.timeout_ms));
  const std::optional<PoolInfo> pool = daemon.get_pool(name);
  if (!pool) throw PoolNotFoundError("no pool named '" + name + "'", name);
  if (c.json) {
    Json j;
    pool_json(j, *pool);
    print_line(j.str());
    return 0;
  }
  const PoolMetadata& md = pool->metadata;
  const PoolStats& s = pool->stats;
  const PoolLayoutInfo& l = pool->layout;
  print_line("pool " + md.name);
  print_line("  frames     " + format_shape(md.shape) + " " + std::string(md.dtype_str()) + " (" +
             format_bytes(static_cast<double>(md.frame_bytes())) + "), history " +
             std::to_string(md.history_len) + ", device " + md.device + ", backend " +
             md.backend_type);
  print_line(strprintf("  memory     %s host (memfd:%s), generation %llu, slot stride %llu B",
                       format_bytes(static_cast<double>(l.segment_size)).c_str(),
                       md.shm_name.c_str(), static_cast<unsigned long long>(l.generation),
                       static_cast<unsigned long long>(l.slot_stride)));
  if (!l.cuda_sharing.empty()) {
    print_line("  gpu        " + format_bytes(static_cast<double>(l.cuda_allocation_size)) +
               " device memory, shared by " + l.cuda_sharing);
  }
  print_line("  owner      uid " + user_name(s.owner_uid) + ", created " +
             format_time(s.created_unix_ns) + " by pid " + std::to_string(md.creator_pid));
  print_line("  producer   " + (s.producer_pid != 0
                                    ? "pid " + std::to_string(s.producer_pid)
                                    : std::string("none (kept: the next producer resumes it)")));
  print_line(strprintf("  frames     latest seq %llu, %llu published here, %.2f Hz, last at %s",
                       static_cast<unsigned long long>(s.latest_seq),
                       static_cast<unsigned long long>(s.frames_published), s.rate_hz,
                       format_time(s.last_publish_unix_ns).c_str()));
  print_line(strprintf("  subscribers %u, frame events dropped %llu", s.subscribers,
                       static_cast<unsigned long long>(s.dropped)));
  if (!s.subscriber.empty()) {
    Table t({"    PID", "NOTIFY", "KEEP_LAST", "DELIVERED", "DROPPED", "QUEUED"});
    for (const SubscriberStats& sub : s.subscriber) {
      t.add({"    " + std::to_string(sub.pid), sub.lifecycle_only ? "futex" : "stream",
             std::to_string(sub.keep_last), std::to_string(sub.delivered),
             std::to_string(sub.dropped), std::to_string(sub.queued)});
    }
    print(t.str());
  }
  return 0;
}

int run_rm(const Common& c, const std::string& name, bool force) {
  DaemonClient daemon(c.socket, std::chrono::milliseconds(c.timeout_ms));
  bool deleted = false;
  try {
    deleted = daemon.delete_pool(name, force);
  } catch (const StateError& e) {
    std::fprintf(stderr, "tensor-ipc: %s (tensor-ipc rm --force %s)\n", e.what(), name.c_str());
    return 1;
  }
  if (!deleted) throw PoolNotFoundError("no pool named '" + name + "'", name);
  if (c.json) {
    print_line(Json().begin_object().field("deleted", name).end_object().str());
  } else {
    print_line("deleted pool '" + name + "'");
  }
  return 0;
}

namespace {

// Pool changes between two reads of the list, as watch reports them.
struct Change {
  std::string pool;
  std::string event;  // present, created, producer-joined, producer-left, replaced, removed
  int32_t producer_pid = 0;
  uint64_t latest_seq = 0;
  std::string detail;
};

std::vector<Change> diff(const std::map<std::string, PoolInfo>& before,
                         const std::map<std::string, PoolInfo>& after) {
  std::vector<Change> out;
  for (const auto& [name, now] : after) {
    const PoolStats& s = now.stats;
    const std::string what = format_shape(now.metadata.shape) + " " +
                             std::string(now.metadata.dtype_str()) + " x" +
                             std::to_string(now.metadata.history_len) + " on " +
                             now.metadata.device;
    auto it = before.find(name);
    if (it == before.end()) {
      out.push_back({name, "created", s.producer_pid, s.latest_seq, what});
      continue;
    }
    const PoolInfo& was = it->second;
    if (was.layout.generation != now.layout.generation) {
      out.push_back({name, "replaced", s.producer_pid, s.latest_seq, what});
    } else if (was.stats.producer_pid != s.producer_pid) {
      if (was.stats.producer_pid != 0) {
        out.push_back({name, "producer-left", was.stats.producer_pid, s.latest_seq, ""});
      }
      if (s.producer_pid != 0) {
        out.push_back({name, "producer-joined", s.producer_pid, s.latest_seq, "resumed"});
      }
    }
  }
  for (const auto& [name, was] : before) {
    if (after.count(name) == 0) out.push_back({name, "removed", 0, was.stats.latest_seq, ""});
  }
  return out;
}

std::map<std::string, PoolInfo> by_name(std::vector<PoolInfo> pools) {
  std::map<std::string, PoolInfo> out;
  for (PoolInfo& p : pools) out.emplace(p.metadata.name, std::move(p));
  return out;
}

}  // namespace

int run_watch(const Common& c, const WatchOptions& o) {
  DaemonClient daemon(c.socket, std::chrono::milliseconds(c.timeout_ms));
  auto report = [&](const Change& ch) {
    const int64_t now = std::chrono::duration_cast<std::chrono::nanoseconds>(
                            std::chrono::system_clock::now().time_since_epoch())
                            .count();
    if (c.json) {
      Json j;
      j.begin_object()
          .field("time", format_time(now))
          .field("pool", ch.pool)
          .field("event", ch.event)
          .field("producer_pid", ch.producer_pid)
          .field("latest_seq", ch.latest_seq)
          .end_object();
      print_line(j.str());
    } else {
      std::string line = format_time(now) + "  " + ch.pool + "  " + ch.event;
      if (ch.producer_pid != 0) line += "  pid " + std::to_string(ch.producer_pid);
      if (!ch.detail.empty()) line += "  " + ch.detail;
      print_line(line);
    }
    std::fflush(stdout);
  };
  std::map<std::string, PoolInfo> known = by_name(daemon.list_pools());
  for (const auto& [name, p] : known) {
    report({name, "present", p.stats.producer_pid, p.stats.latest_seq, ""});
  }
  uint64_t changes = 0;
  while (!g_stop.load()) {
    // In slices, so that Ctrl-C is quick whatever the interval.
    const auto wake = std::chrono::steady_clock::now() + std::chrono::milliseconds(o.interval_ms);
    while (!g_stop.load() && std::chrono::steady_clock::now() < wake) {
      std::this_thread::sleep_for(std::chrono::milliseconds(std::min<uint32_t>(o.interval_ms, 50)));
    }
    if (g_stop.load()) break;
    std::map<std::string, PoolInfo> now;
    try {
      now = by_name(daemon.list_pools());
    } catch (const DaemonUnavailableError& e) {
      // A restarting daemon: say so once, and carry on when it is back.
      report({"-", "daemon-unavailable", 0, 0, ""});
      while (!g_stop.load()) {
        std::this_thread::sleep_for(std::chrono::milliseconds(200));
        try {
          now = by_name(daemon.list_pools());
          report({"-", "daemon-back", 0, 0, ""});
          break;
        } catch (const DaemonUnavailableError&) {
        }
      }
      if (g_stop.load()) break;  // stopped while the daemon was away: nothing was removed
    }
    for (const Change& ch : diff(known, now)) {
      report(ch);
      if (o.count != 0 && ++changes >= o.count) return 0;
    }
    known = std::move(now);
  }
  return 0;
}

int run_socket(const Common& c) {
  const SocketChoice chosen = c.socket.empty() ? default_socket() : SocketChoice{c.socket, "--socket"};
  const std::string& path = chosen.path;
  const std::string& source = chosen.source;
  struct stat st {};
  const bool exists = ::stat(path.c_str(), &st) == 0;
  std::optional<DaemonInfo> info;
  std::string error;
  if (exists) {
    try {
      info = DaemonClient(path, std::chrono::milliseconds(c.timeout_ms)).info();
    } catch (const Error& e) {
      error = e.what();
    }
  } else {
    error = "the socket does not exist";
  }
  if (c.json) {
    Json j;
    j.begin_object().field("socket", path).field("source", source).field("exists", exists);
    j.field("answers", info.has_value());
    if (info) j.field("version", info->version).field("pid", info->pid);
    if (!info) j.field("error", error);
    j.end_object();
    print_line(j.str());
  } else {
    print_line(path);
    print_line("  from     " + source);
    if (info) {
      print_line("  daemon   tensor-ipcd " + info->version + ", pid " + std::to_string(info->pid) +
                 ", up since " + format_time(info->started_unix_ns));
    } else {
      print_line("  daemon   none answers: " + error);
    }
  }
  return info ? 0 : 1;
}

namespace {

struct Check {
  std::string level;  // ok, warn, fail
  std::string what;
  std::string fix;
};

uint64_t meminfo_bytes(const std::string& key) {
  std::ifstream in("/proc/meminfo");
  std::string name;
  uint64_t kib = 0;
  std::string unit;
  while (in >> name >> kib) {
    std::getline(in, unit);
    if (name == key + ":") return kib * 1024;
  }
  return 0;
}

bool in_group_now(gid_t gid) {
  if (::getegid() == gid) return true;
  std::vector<gid_t> groups(static_cast<size_t>(::getgroups(0, nullptr)) + 1);
  const int n = ::getgroups(static_cast<int>(groups.size()), groups.data());
  for (int i = 0; i < n; ++i) {
    if (groups[static_cast<size_t>(i)] == gid) return true;
  }
  return false;
}

bool listed_in_group(gid_t gid) {
  const passwd* pw = ::getpwuid(::geteuid());
  const group* gr = ::getgrgid(gid);
  if (!pw || !gr) return false;
  if (pw->pw_gid == gid) return true;
  for (char** m = gr->gr_mem; m && *m; ++m) {
    if (std::string(*m) == pw->pw_name) return true;
  }
  return false;
}

}  // namespace

int run_doctor(const Common& c) {
  std::vector<Check> checks;
  const SocketChoice chosen = c.socket.empty() ? default_socket() : SocketChoice{c.socket, "--socket"};
  const std::string& path = chosen.path;
  checks.push_back({"ok", "socket " + path + " (" + chosen.source + ")", ""});
  struct stat system_st {};
  if (chosen.source == "TENSOR_IPC_SOCKET" && path != system_socket_path() &&
      ::stat(system_socket_path(), &system_st) == 0) {
    checks.push_back({"warn", "TENSOR_IPC_SOCKET points away from the system service's socket, "
                              "which exists",
                      "unset TENSOR_IPC_SOCKET to use the system service"});
  }

  std::optional<DaemonInfo> info;
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0 && errno == EACCES) {
    checks.push_back({"fail", "cannot look into the directory of " + path + " (permission denied)",
                      "the daemon's socket directory must be searchable by its clients: the "
                      "system service's /run/tensor-ipc is 0755; for your own daemon, use your "
                      "own socket (unset TENSOR_IPC_SOCKET)"});
  } else if (::stat(path.c_str(), &st) != 0) {
    checks.push_back({"fail", "no socket at " + path + ": no daemon is running there",
                      "start one: `tensor-ipcd` (your own), or `sudo systemctl start tensor-ipcd` "
                      "(the system service; then its socket is found by itself)"});
  } else if (!S_ISSOCK(st.st_mode)) {
    checks.push_back({"fail", path + " is not a socket",
                      "remove it, or point TENSOR_IPC_SOCKET at the daemon's socket"});
  } else {
    const std::string owner = user_name(st.st_uid) + ":" + group_name(st.st_gid);
    if (::access(path.c_str(), R_OK | W_OK) != 0) {
      std::string fix;
      const std::string grp = group_name(st.st_gid);
      if (in_group_now(st.st_gid)) {
        fix = "the socket's group " + grp + " has no rw: restart the daemon with --socket-mode 0660";
      } else if (listed_in_group(st.st_gid)) {
        fix = "you are in group " + grp + " but this login is not yet: log in again (or `newgrp " + grp + "`)";
      } else {
        fix = "`sudo usermod -aG " + grp + " $USER`, then log in again";
      }
      checks.push_back({"fail", strprintf("no permission to connect to %s (owner %s, mode %04o)",
                                          path.c_str(), owner.c_str(), st.st_mode & 07777),
                        fix});
    } else {
      checks.push_back({"ok", strprintf("may connect (owner %s, mode %04o)", owner.c_str(),
                                        st.st_mode & 07777),
                        ""});
      try {
        info = DaemonClient(path, std::chrono::milliseconds(c.timeout_ms)).info();
      } catch (const Error& e) {
        checks.push_back({"fail", std::string("the daemon does not answer: ") + e.what(),
                          "a stale socket of a daemon that died: start tensor-ipcd again (it "
                          "replaces a socket no one answers on)"});
      }
    }
  }
  if (info) {
    checks.push_back({"ok", "tensor-ipcd " + info->version + ", pid " + std::to_string(info->pid) +
                                ", up since " + format_time(info->started_unix_ns) + ", " +
                                std::to_string(info->pools) + " pools (" +
                                format_bytes(static_cast<double>(info->pool_bytes)) + "), " +
                                std::to_string(info->streams) + " streams",
                      ""});
    if (info->version != TENSORIPC_VERSION) {
      checks.push_back({"warn", "the daemon is " + info->version + ", this tool " + TENSORIPC_VERSION,
                        "restart the daemon after upgrading (`sudo systemctl restart tensor-ipcd`)"});
    }
    const uint64_t available = meminfo_bytes("MemAvailable");
    const uint64_t room = info->max_total_bytes > info->pool_bytes
                              ? info->max_total_bytes - info->pool_bytes
                              : 0;
    if (available != 0 && room > available) {
      checks.push_back({"warn",
                        "the daemon may still grant " + format_bytes(static_cast<double>(room)) +
                            " of pools, but only " + format_bytes(static_cast<double>(available)) +
                            " of memory is available",
                        "lower --max-total-bytes in /etc/tensor-ipc/tensor-ipcd.toml, or free memory"});
    } else if (available != 0) {
      checks.push_back({"ok", "memory: " + format_bytes(static_cast<double>(available)) +
                                  " available; pools may take " +
                                  format_bytes(static_cast<double>(room)) + " more",
                        ""});
    }
    try {
      for (const PoolInfo& p : DaemonClient(path, std::chrono::milliseconds(c.timeout_ms)).list_pools()) {
        if (p.stats.dropped != 0) {
          checks.push_back({"warn",
                            "pool '" + p.metadata.name + "': " + std::to_string(p.stats.dropped) +
                                " frame events dropped for subscribers that fell behind",
                            "`tensor-ipc info " + p.metadata.name +
                                "` shows which; a larger keep_last, a faster callback, or the "
                                "futex path helps"});
        }
      }
    } catch (const Error&) {
    }
  }
  checks.push_back({"ok", std::string("GPU pools in this build: ") +
                              (built_with_cuda() ? "yes" : "no (built without CUDA)"),
                    ""});

  bool failed = false;
  for (const Check& ch : checks) failed = failed || ch.level == "fail";
  if (c.json) {
    Json j;
    j.begin_object().field("ok", !failed).key("checks").begin_array();
    for (const Check& ch : checks) {
      j.begin_object().field("level", ch.level).field("what", ch.what);
      if (!ch.fix.empty()) j.field("fix", ch.fix);
      j.end_object();
    }
    j.end_array().end_object();
    print_line(j.str());
  } else {
    for (const Check& ch : checks) {
      print_line((ch.level == "ok" ? "ok    " : ch.level == "warn" ? "warn  " : "FAIL  ") + ch.what);
      if (!ch.fix.empty()) print_line("      fix: " + ch.fix);
    }
  }
  return failed ? 1 : 0;
}

}  // namespace tensoripc::cli
