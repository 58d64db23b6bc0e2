// tipc_bench_waiters: what put() costs at a sensor's rate before any
// consumer, with futex-path consumers asleep on the pool, and after those
// consumers were SIGKILLed in their futex wait.
//
//   tipc_bench_waiters [--out FILE] [--puts 1000] [--warmup 100] [--rounds 5]
//       [--consumers 8] [--rate 1000] [--bytes 4096]
//
// put() makes a FUTEX_WAKE system call on the pool's word whenever the pool
// header says a consumer may sleep on it. A consumer killed in that sleep
// never says it left; if nothing else clears what it said, every later put
// pays the wake for nobody. Each round takes a fresh pool (history_len 4)
// through three phases, `--puts` paced puts each, only the call timed:
//   no_consumer  the producer alone
//   live         K consumer processes, each asleep on the futex in two
//                threads (a kFutex on_new_data callback and wait_for_frame)
//   after_kill   the same pool once those processes were SIGKILLed asleep
//                (after a pause in the puts) and tensor-ipcd counts no
//                subscriber any more
// Rounds repeat the three, so that each phase sees the machine's load at
// several moments; the reported percentiles are medians over rounds. It
// starts its own tensor-ipcd (private socket and shm prefix) and writes JSON
// to --out (default: stdout); bench/summarize.py --waiters makes the table.
#include <dirent.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <map>
#include <memory>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "client_roles.h"
#include "pool_query.h"
#include "support.h"

namespace tensoripc::bench {
namespace {

struct Options {
  std::string out;
  uint64_t puts = 1000;   // timed, per phase and round
  uint64_t warmup = 100;  // untimed, before each phase's timed puts
  int rounds = 5;
  int consumers = 8;
  double rate_hz = 1000;
  int64_t bytes = 4096;
};

constexpr uint32_t kHistoryLen = 4;
constexpr const char* kPhases[] = {"no_consumer", "live", "after_kill"};

// What happened around the kills of one round.
struct KillReport {
  int killed = 0;
  // Threads of the killed processes that were in a shared-memory FUTEX_WAIT
  // when the SIGKILL was sent (the pool's waits; the library's other waits
  // are process-private); -1 when /proc would not say.
  int asleep_threads = -1;
  uint32_t subscribers_before = 0;   // as tensor-ipcd counted them
  int64_t subscribers_gone_ms = -1;  // until it counted none; -1: not in 10 s
};

struct RoundResult {
  std::map<std::string, LatencySummary> phases;
  KillReport kills;
};

// Threads of `pid` in FUTEX_WAIT (op 0: not FUTEX_PRIVATE_FLAG) right now,
// from /proc/PID/task/TID/syscall; -1 when that cannot be read.
int shared_futex_sleepers(pid_t pid) {
  const std::string tasks = "/proc/" + std::to_string(pid) + "/task";
  DIR* d = ::opendir(tasks.c_str());
  if (!d) return -1;
  int n = 0;
  bool read_any = false;
  while (const dirent* e = ::readdir(d)) {
    if (e->d_name[0] == '.') continue;
    std::ifstream in(tasks + "/" + e->d_name + "/syscall");
    std::string nr, addr, op;
    if (!(in >> nr >> addr >> op)) continue;
    read_any = true;
    if (nr == "202" && op == "0x0") ++n;  // SYS_futex, FUTEX_WAIT
  }
  ::closedir(d);
  return read_any ? n : -1;
}

// `count` puts at `rate_hz`; the duration of each call in ns.
std::vector<int64_t> timed_puts(Producer& producer, const TensorView& frame, uint64_t count,
                                double rate_hz) {
  std::vector<int64_t> ns;
  ns.reserve(count);
  paced(count, rate_hz, [&](uint64_t) {
    const int64_t t0 = monotonic_ns();
    producer.put(frame);
    ns.push_back(monotonic_ns() - t0);
  });
  return ns;
}

RoundResult run_round(PoolQuerier& query, int round, const Options& o) {
  const PoolSpec spec{"waiters_r" + std::to_string(round), {o.bytes}, DType::kUInt8, kHistoryLen};
  Producer producer(spec.metadata());
  std::vector<uint8_t> bytes(static_cast<size_t>(o.bytes), 1);
  const TensorView frame(bytes.data(), spec.dtype, Shape(spec.shape));
  auto warm_up = [&] { paced(o.warmup, o.rate_hz, [&](uint64_t) { producer.put(frame); }); };
  RoundResult r;

  warm_up();
  r.phases["no_consumer"] = summarize(timed_puts(producer, frame, o.puts, o.rate_hz));

  std::vector<std::unique_ptr<Child>> waiters;
  for (int i = 0; i < o.consumers; ++i) {
    waiters.push_back(std::make_unique<Child>(
        std::vector<std::string>{self_exe(), "--role", "futex-waiter", "--name", spec.name,
                                 "--bytes", std::to_string(o.bytes)}));
  }
  for (auto& w : waiters) {
    if (!w->wait_for_line("ready", std::chrono::seconds(20))) {
      throw std::runtime_error("a futex-waiter process did not get ready");
    }
  }
  warm_up();
  for (auto& w : waiters) {
    if (!w->wait_for_line("receiving", std::chrono::seconds(5))) {
      throw std::runtime_error("futex-waiter " + std::to_string(w->pid()) +
                               " got no frame in its callback or wait_for_frame");
    }
  }
  r.phases["live"] = summarize(timed_puts(producer, frame, o.puts, o.rate_hz));

  // No frame for a while: every waiter thread is back asleep on the futex.
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  if (const auto s = query.stats(spec.name)) r.kills.subscribers_before = s->subscribers();
  r.kills.asleep_threads = 0;
  for (auto& w : waiters) {
    const int n = shared_futex_sleepers(w->pid());
    r.kills.asleep_threads = n < 0 || r.kills.asleep_threads < 0 ? -1 : r.kills.asleep_threads + n;
  }
  for (auto& w : waiters) w->signal(SIGKILL);
  for (auto& w : waiters) {
    const auto st = w->wait(std::chrono::seconds(10));
    if (st && WIFSIGNALED(*st) && WTERMSIG(*st) == SIGKILL) ++r.kills.killed;
  }
  waiters.clear();
  if (const auto gone = query.wait_for_subscribers(spec.name, 0, std::chrono::seconds(10))) {
    r.kills.subscribers_gone_ms = gone->count();
  }
  // The dead processes' teardown and the daemon's clean-up are over.
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  warm_up();
  r.phases["after_kill"] = summarize(timed_puts(producer, frame, o.puts, o.rate_hz));
  producer.cleanup();
  return r;
}

std::string summary_json(const LatencySummary& s) {
  char buf[256];
  std::snprintf(buf, sizeof buf,
                "{\"count\": %zu, \"p50_us\": %.3f, \"p90_us\": %.3f, \"p99_us\": %.3f, "
                "\"max_us\": %.3f, \"mean_us\": %.3f}",
                s.count, s.p50_us, s.p90_us, s.p99_us, s.max_us, s.mean_us);
  return buf;
}

std::string to_json(const Options& o, const std::vector<RoundResult>& rounds) {
  std::ostringstream s;
  s << "{\n  \"context\": {" << machine_json_fields() << ", \"puts\": " << o.puts
    << ", \"warmup\": " << o.warmup << ", \"rounds\": " << o.rounds
    << ", \"consumers\": " << o.consumers << ", \"rate_hz\": " << o.rate_hz
    << ", \"frame_bytes\": " << o.bytes << ", \"history_len\": " << kHistoryLen << "},\n";
  s << "  \"phases\": [";
  const char* sep = "\n";
  for (const char* phase : kPhases) {
    std::vector<double> p50, p90, p99;
    std::string per_round;
    for (const RoundResult& r : rounds) {
      const LatencySummary& x = r.phases.at(phase);
      p50.push_back(x.p50_us);
      p90.push_back(x.p90_us);
      p99.push_back(x.p99_us);
      per_round += (per_round.empty() ? "" : ", ") + summary_json(x);
    }
    char buf[256];
    std::snprintf(buf, sizeof buf,
                  "{\"phase\": \"%s\", \"p50_us\": %.3f, \"p90_us\": %.3f, \"p99_us\": %.3f, ",
                  phase, median(p50), median(p90), median(p99));
    s << sep << "    " << buf << "\"rounds\": [" << per_round << "]}";
    sep = ",\n";
  }
  s << "\n  ],\n  \"kills\": [";
  sep = "\n";
  for (const RoundResult& r : rounds) {
    s << sep << "    {\"killed\": " << r.kills.killed
      << ", \"asleep_threads\": " << r.kills.asleep_threads
      << ", \"subscribers_before\": " << r.kills.subscribers_before
      << ", \"subscribers_gone_ms\": " << r.kills.subscribers_gone_ms << "}";
    sep = ",\n";
  }
  s << "\n  ]\n}\n";
  return s.str();
}

int run_all(const Options& o) {
  BenchDaemon daemon;
  ::setenv("TENSOR_IPC_SOCKET", daemon.socket_path().c_str(), 1);  // children inherit it
  PoolQuerier query(daemon.socket_path());
  std::vector<RoundResult> rounds;
  for (int round = 0; round < o.rounds; ++round) {
    rounds.push_back(run_round(query, round, o));
    const RoundResult& r = rounds.back();
    std::fprintf(stderr, "waiters: round %d of %d:", round + 1, o.rounds);
    for (const char* phase : kPhases) {
      std::fprintf(stderr, "  %s p50 %.2f us", phase, r.phases.at(phase).p50_us);
    }
    std::fprintf(stderr, "  (killed %d, %d threads asleep, daemon saw them go in %lld ms)\n",
                 r.kills.killed, r.kills.asleep_threads,
                 static_cast<long long>(r.kills.subscribers_gone_ms));
  }
  const std::string json = to_json(o, rounds);
  write_report(o.out, json);
  return 0;
}

[[noreturn]] void usage(const std::string& why) {
  std::fprintf(stderr,
               "tipc_bench_waiters: %s\nusage: tipc_bench_waiters [--out FILE] [--puts 1000] "
               "[--warmup 100] [--rounds 5] [--consumers 8] [--rate 1000] [--bytes 4096]\n",
               why.c_str());
  std::exit(2);
}

}  // namespace
}  // namespace tensoripc::bench

int main(int argc, char** argv) {
  using namespace tensoripc;
  using namespace tensoripc::bench;
  const Flags flag(argc, argv, usage);
  try {
    const std::string role = flag("role");
    if (role == "futex-waiter") {
      const PoolSpec spec{flag("name"), {std::stoll(flag("bytes"))}, DType::kUInt8, kHistoryLen};
      return run_futex_waiter(spec);
    }
    if (!role.empty()) usage("unknown role " + role);

    Options o;
    o.out = flag("out");
    o.puts = std::stoull(flag("puts", "1000"));
    o.warmup = std::stoull(flag("warmup", "100"));
    o.rounds = std::stoi(flag("rounds", "5"));
    o.consumers = std::stoi(flag("consumers", "8"));
    o.rate_hz = std::stod(flag("rate", "1000"));
    o.bytes = std::stoll(flag("bytes", "4096"));
    if (o.puts < 1 || o.rounds < 1 || o.consumers < 1 || o.rate_hz <= 0 || o.bytes < 1) {
      usage("--puts, --rounds, --consumers, --bytes must be >= 1 and --rate > 0");
    }
    return run_all(o);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "tipc_bench_waiters: %s\n", e.what());
    return 1;
  }
}
