// tipc_bench_neighbours: does one pool's flood of subscribers slow another
// pool's notifications?
//
//   tipc_bench_neighbours [--out FILE] [--samples 2000] [--warmup 100]
//       [--rate 500] [--bytes 4096] [--flood 2000] [--flood-keep-last 10]
//       [--flood-rate 1000] [--rounds 3] [--frame-watch auto|per-pool]
//
// Pool B: a producer in this process puts --bytes frames at --rate; one
// consumer process (stream path) records put -> callback latency. Pool A: a
// producer in this process puts 4 KiB frames at --flood-rate, and a flooder
// process holds --flood Subscribe streams on it that never read (each with
// --flood-keep-last), so the daemon queues, drops and fans out A's frames
// to all of them. Every round measures pool B alone, then beside the flood
// (A's producer and flooder running, the daemon counting every flood
// stream), so both phases see the machine at the same moments; the reported
// percentiles are medians over rounds. It starts its own tensor-ipcd
// (private socket and memory labels, stream limits raised for the flood)
// and writes JSON to --out (default: stdout).
#include <signal.h>

#include <algorithm>
#include <atomic>
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
#include "flooder.h"
#include "pool_query.h"
#include "support.h"

namespace tensoripc::bench {
namespace {

struct Options {
  std::string out;
  uint64_t samples = 2000;
  uint64_t warmup = 100;
  double rate_hz = 500;
  int64_t bytes = 4096;
  int flood = 2000;
  uint32_t flood_keep_last = 10;
  double flood_rate_hz = 1000;
  int rounds = 3;
  std::string frame_watch;  // tensor-ipcd's --frame-watch, when given
};

struct Phase {
  std::vector<LatencySummary> rounds;
  uint64_t dropped = 0;
  double daemon_cpu_s = 0;  // tensor-ipcd's CPU time while pool B was measured
  double wall_s = 0;        // and how long that was
  double daemon_cpus() const { return wall_s > 0 ? daemon_cpu_s / wall_s : 0; }
};

std::vector<int64_t> flatten(const std::vector<std::vector<int64_t>>& parts) {
  std::vector<int64_t> all;
  for (const auto& p : parts) all.insert(all.end(), p.begin(), p.end());
  return all;
}

// Pool B's latency: a fresh pool, one stream consumer, paced puts; into
// `phase`, with the daemon's CPU time meanwhile.
void measure_b(const BenchDaemon& daemon, const std::string& tag, const Options& o,
               Phase* phase) {
  const PoolSpec spec{tag, {o.bytes}, DType::kUInt8, 4};
  Producer producer(spec.metadata());
  Crew crew(daemon.dir(), tag);
  crew.start(1, {"--role", "consumer", "--name", spec.name, "--bytes", std::to_string(o.bytes),
                 "--warmup", std::to_string(o.warmup)});
  settle();
  std::vector<uint8_t> frame(static_cast<size_t>(o.bytes), 1);
  const TensorView view(frame.data(), spec.dtype, Shape(spec.shape));
  const double cpu_start = cpu_seconds(daemon.pid());
  const int64_t start = monotonic_ns();
  paced(o.warmup + o.samples, o.rate_hz, [&](uint64_t) { producer.put(view); });
  phase->daemon_cpu_s += cpu_seconds(daemon.pid()) - cpu_start;
  phase->wall_s += static_cast<double>(monotonic_ns() - start) / 1e9;
  std::this_thread::sleep_for(std::chrono::milliseconds(300));  // the last callbacks
  auto samples = flatten(crew.finish(true));
  phase->dropped += crew.dropped();
  phase->rounds.push_back(summarize(std::move(samples)));
}

// Pool A's producer, putting until stopped.
class Flood {
 public:
  Flood(const BenchDaemon& daemon, const std::string& name, const Options& o)
      : producer_(PoolMetadata::create(name, {4096}, DType::kUInt8, 4)) {
    flooder_.emplace(std::vector<std::string>{
        self_exe(), "--role", "flooder", "--socket", daemon.socket_path(), "--name", name,
        "--flood", std::to_string(o.flood), "--flood-keep-last", std::to_string(o.flood_keep_last)});
    if (!flooder_->wait_for_line("ready", std::chrono::seconds(60))) {
      throw std::runtime_error("the flooder did not start its streams in 60 s");
    }
    PoolQuerier q(daemon.socket_path());
    if (!q.wait_for_subscribers(name, static_cast<uint32_t>(o.flood), std::chrono::seconds(60))) {
      throw std::runtime_error("tensor-ipcd did not count the flood's streams in 60 s");
    }
    thread_ = std::thread([this, rate = o.flood_rate_hz] {
      std::vector<uint8_t> frame(4096, 2);
      const TensorView view(frame.data(), DType::kUInt8, {4096});
      const int64_t period = static_cast<int64_t>(1e9 / rate);
      int64_t next = monotonic_ns();
      while (!stop_.load(std::memory_order_relaxed)) {
        next += period;
        sleep_until_monotonic(next);
        producer_.put(view);
      }
    });
    // The first frames fill every flood stream's flow-control window (gRPC
    // writes them until the never-reading client stops taking data); what is
    // measured is the steady state after that.
    std::this_thread::sleep_for(std::chrono::seconds(2));
  }
  ~Flood() {
    flooder_->signal(SIGTERM);
    if (!flooder_->wait(std::chrono::seconds(20))) flooder_.reset();
    stop_ = true;
    thread_.join();
  }

 private:
  Producer producer_;
  std::atomic<bool> stop_{false};
  std::thread thread_;
  std::optional<Child> flooder_;
};

std::string phase_json(const Phase& p) {
  std::vector<double> p50, p90, p99;
  std::ostringstream rounds;
  for (size_t i = 0; i < p.rounds.size(); ++i) {
    const LatencySummary& s = p.rounds[i];
    p50.push_back(s.p50_us);
    p90.push_back(s.p90_us);
    p99.push_back(s.p99_us);
    rounds << (i ? ", " : "") << "{\"count\": " << s.count << ", \"p50_us\": " << s.p50_us
           << ", \"p90_us\": " << s.p90_us << ", \"p99_us\": " << s.p99_us
           << ", \"max_us\": " << s.max_us << "}";
  }
  std::ostringstream out;
  out << "{\"p50_us\": " << median(p50) << ", \"p90_us\": " << median(p90)
      << ", \"p99_us\": " << median(p99) << ", \"dropped\": " << p.dropped
      << ", \"daemon_cpus\": " << p.daemon_cpus() << ", \"rounds\": ["
      << rounds.str() << "]}";
  return out.str();
}

int run(const Options& o) {
  const std::string streams = std::to_string(o.flood + 64);
  std::vector<std::string> args{"--max-streams", streams, "--max-streams-per-uid", streams};
  if (!o.frame_watch.empty()) args.insert(args.end(), {"--frame-watch", o.frame_watch});
  BenchDaemon daemon(args);
  ::setenv("TENSOR_IPC_SOCKET", daemon.socket_path().c_str(), 1);
  Phase alone, flooded;
  for (int r = 0; r < o.rounds; ++r) {
    const std::string round = std::to_string(r);
    measure_b(daemon, "b_alone_r" + round, o, &alone);
    std::fprintf(stderr, "round %d alone: p50 %.1f us, p99 %.1f us\n", r, alone.rounds.back().p50_us,
                 alone.rounds.back().p99_us);
    {
      Flood flood(daemon, "a_flood_r" + round, o);
      measure_b(daemon, "b_flooded_r" + round, o, &flooded);
    }
    std::fprintf(stderr, "round %d flooded: p50 %.1f us, p99 %.1f us\n", r,
                 flooded.rounds.back().p50_us, flooded.rounds.back().p99_us);
  }
  std::vector<double> a, f;
  for (const auto& s : alone.rounds) a.push_back(s.p50_us);
  for (const auto& s : flooded.rounds) f.push_back(s.p50_us);
  const double ratio = median(a) > 0 ? median(f) / median(a) : 0;
  std::ostringstream json;
  json << "{\n  " << machine_json_fields() << ",\n  \"config\": {\"samples\": " << o.samples
       << ", \"warmup\": " << o.warmup << ", \"rate_hz\": " << o.rate_hz
       << ", \"bytes\": " << o.bytes << ", \"flood_streams\": " << o.flood
       << ", \"flood_keep_last\": " << o.flood_keep_last
       << ", \"flood_rate_hz\": " << o.flood_rate_hz << ", \"rounds\": " << o.rounds
       << "},\n  \"alone\": " << phase_json(alone) << ",\n  \"flooded\": " << phase_json(flooded)
       << ",\n  \"p50_ratio\": " << ratio << "\n}\n";
  write_report(o.out, json.str());
  std::fprintf(stderr,
               "pool B p50: alone %.1f us, beside the flood %.1f us (%.2fx); tensor-ipcd used "
               "%.2f CPUs alone, %.2f beside the flood\n",
               median(a), median(f), ratio, alone.daemon_cpus(), flooded.daemon_cpus());
  return 0;
}

[[noreturn]] void usage(const std::string& why) {
  std::fprintf(stderr,
               "tipc_bench_neighbours: %s\nusage: tipc_bench_neighbours [--out FILE] "
               "[--samples 2000] [--warmup 100] [--rate 500] [--bytes 4096] [--flood 2000] "
               "[--flood-keep-last 10] [--flood-rate 1000] [--rounds 3] [--frame-watch auto|per-pool]\n",
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
    if (role == "consumer") {
      const PoolSpec spec{flag("name"), {std::stoll(flag("bytes"))}, DType::kUInt8, 4};
      return run_latency_consumer(spec, NotifyPath::kStream, std::stoull(flag("warmup")),
                                  flag("out"));
    }
    if (role == "flooder") {
      return run_flooder(flag("socket"), flag("name"), std::stoi(flag("flood")),
                         static_cast<uint32_t>(std::stoul(flag("flood-keep-last"))));
    }
    if (!role.empty()) usage("unknown role " + role);
    Options o;
    o.out = flag("out");
    o.samples = std::stoull(flag("samples", "2000"));
    o.warmup = std::stoull(flag("warmup", "100"));
    o.rate_hz = std::stod(flag("rate", "500"));
    o.bytes = std::stoll(flag("bytes", "4096"));
    o.flood = std::stoi(flag("flood", "2000"));
    o.flood_keep_last = static_cast<uint32_t>(std::stoul(flag("flood-keep-last", "10")));
    o.flood_rate_hz = std::stod(flag("flood-rate", "1000"));
    o.rounds = std::stoi(flag("rounds", "3"));
    o.frame_watch = flag("frame-watch");
    if (o.bytes < 8 || o.rate_hz <= 0 || o.flood_rate_hz <= 0 || o.rounds < 1 || o.flood < 1) {
      usage("bad values");
    }
    return run(o);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "tipc_bench_neighbours: %s\n", e.what());
    return 1;
  }
}
