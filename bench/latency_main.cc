// tipc_bench_latency: end-to-end latency put -> consumer callback, with the
// consumers in separate processes, on the stream and the futex notification
// paths, beside the floors they stand on, measured in the same run:
//   futex_ping  a raw cross-process futex wake on a shm word (futex's floor)
//   grpc_hop    a bare gRPC server-streaming hop on a Unix socket (the
//               yardstick the issue names for the stream path)
//   grpc_relay  two bare hops through a relay process, the shape of
//               producer -> tensor-ipcd -> consumer (the stream path's floor)
// and the frames per second of 640x480x3 float32 frames (3,686,400 B) with a
// producer as fast as it can and one consumer reading every frame.
//
//   tipc_bench_latency [--out FILE] [--samples 2000] [--warmup 100]
//       [--rate 500] [--bytes 4096] [--consumers 1,8] [--rounds 4] [--fps-seconds 3]
//       [--only futex_ping,futex,grpc_hop,grpc_relay,stream,fps]
//
// The configurations take turns: each round runs every one of them for
// samples/rounds frames, so a path and its floor see the same load on a
// shared machine. It starts its own tensor-ipcd (private socket and shm
// prefix) and writes the results as JSON to --out (default: stdout).
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <map>
#include <memory>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "client_roles.h"
#include "futex_ping.h"
#include "grpc_hop.h"
#include "support.h"

namespace tensoripc::bench {
namespace {

struct Options {
  std::string out;
  uint64_t samples = 2000;
  uint64_t warmup = 100;  // per round
  int rounds = 4;
  double rate_hz = 500;
  int64_t bytes = 4096;
  std::vector<int> consumers = {1, 8};
  double fps_seconds = 3;
  std::set<std::string> only;  // empty: everything

  bool wants(const std::string& what) const { return only.empty() || only.count(what) > 0; }
};

const char* path_name(NotifyPath p) { return p == NotifyPath::kFutex ? "futex" : "stream"; }

// What one configuration gave in one round.
struct RunResult {
  std::vector<int64_t> samples_ns;
  std::vector<int64_t> put_ns;    // the producer's put() calls after warm-up (library paths)
  uint64_t consumer_dropped = 0;  // frame events the daemon dropped (stream path)
};

// One latency configuration's result over all rounds.
struct LatencyResult {
  std::string path;
  int consumers = 0;
  uint64_t expected = 0;
  LatencySummary summary;
  LatencySummary put;  // put() itself, on the producer's thread
  uint64_t consumer_dropped = 0;
};

struct FpsResult {
  std::string notify;
  int64_t frame_bytes = 0;
  double seconds = 0;
  int64_t produced = 0, consumed = 0, lost = 0, wrong = 0;
};

std::vector<int64_t> merged(const std::vector<std::vector<int64_t>>& parts) {
  std::vector<int64_t> all;
  for (const auto& p : parts) all.insert(all.end(), p.begin(), p.end());
  return all;
}


RunResult run_library(const BenchDaemon& daemon, NotifyPath notify, int n, uint64_t samples,
                      int round, const Options& o) {
  // A fresh pool each round: sequence numbers, and so the warm-up, start at 1.
  const std::string tag = std::string("lat_") + path_name(notify) + "_" + std::to_string(n) + "_r" +
                          std::to_string(round);
  const PoolSpec spec{tag, {o.bytes}, DType::kUInt8, 4};
  Producer producer(spec.metadata());
  Crew crew(daemon.dir(), tag);
  crew.start(n, {"--role", "consumer", "--name", spec.name, "--bytes", std::to_string(o.bytes),
                 "--notify", path_name(notify), "--warmup", std::to_string(o.warmup)});
  settle();
  std::vector<uint8_t> frame(static_cast<size_t>(o.bytes), 1);
  const TensorView view(frame.data(), spec.dtype, Shape(spec.shape));
  std::vector<int64_t> put_ns;
  put_ns.reserve(samples);
  paced(o.warmup + samples, o.rate_hz, [&](uint64_t i) {
    const int64_t t0 = monotonic_ns();
    producer.put(view);
    if (i > o.warmup) put_ns.push_back(monotonic_ns() - t0);
  });
  settle();
  RunResult r{merged(crew.finish(true)), std::move(put_ns)};
  r.consumer_dropped = crew.dropped();
  producer.cleanup();
  return r;
}

RunResult run_ping(const BenchDaemon& daemon, int n, uint64_t samples, const Options& o) {
  Pinger pinger;
  Crew crew(daemon.dir(), "ping_" + std::to_string(n));
  crew.start(
      n, {"--role", "ping-waiter", "--shm", pinger.name(), "--warmup", std::to_string(o.warmup)});
  settle();
  paced(o.warmup + samples, o.rate_hz, [&](uint64_t i) { pinger.ping(i); });
  settle();
  pinger.stop();
  return {merged(crew.finish(false)), {}};
}

RunResult run_hop(const BenchDaemon& daemon, int n, uint64_t samples, const Options& o) {
  const std::string socket = daemon.dir() + "/hop-" + std::to_string(n) + ".sock";
  HopServer server(socket);
  Crew crew(daemon.dir(), "hop_" + std::to_string(n));
  crew.start(n, {"--role", "hop-client", "--socket", socket, "--warmup", std::to_string(o.warmup)});
  settle();
  paced(o.warmup + samples, o.rate_hz, [&](uint64_t i) { server.broadcast(i, realtime_ns()); });
  settle();
  server.finish_all();
  return {merged(crew.finish(false)), {}};
}

RunResult run_relay(const BenchDaemon& daemon, int n, uint64_t samples, const Options& o) {
  const std::string socket = daemon.dir() + "/relay-" + std::to_string(n) + ".sock";
  Crew relay(daemon.dir(), "relay_" + std::to_string(n));
  relay.start(1, {"--role", "hop-relay", "--socket", socket});
  Crew crew(daemon.dir(), "relay_clients_" + std::to_string(n));
  crew.start(n, {"--role", "hop-client", "--socket", socket, "--warmup", std::to_string(o.warmup)});
  {
    HopPublisher publisher(socket);
    settle();
    paced(o.warmup + samples, o.rate_hz, [&](uint64_t i) { publisher.send(i); });
    settle();
  }
  relay.finish(true);  // the relay ends its streams, so the clients end
  return {merged(crew.finish(false)), {}};
}

FpsResult run_fps(const BenchDaemon& daemon, NotifyPath notify, const Options& o) {
  const std::string tag = std::string("fps_") + path_name(notify);
  const PoolSpec spec{tag, {480, 640, 3}, DType::kFloat32, 4};
  Producer producer(spec.metadata());
  Crew crew(daemon.dir(), tag);
  crew.start(1, {"--role", "fps-consumer", "--name", spec.name, "--shape", "480,640,3", "--dtype",
                 "float32", "--notify", path_name(notify)});
  settle();
  Tensor frame(spec.dtype, Shape(spec.shape));  // zero-filled: pre-faulted
  FpsResult r;
  r.notify = path_name(notify);
  r.frame_bytes = static_cast<int64_t>(frame.nbytes());
  const int64_t start = monotonic_ns();
  const int64_t end = start + static_cast<int64_t>(o.fps_seconds * 1e9);
  int64_t now = start;
  for (uint64_t i = 1; now < end; ++i) {
    std::memcpy(frame.data(), &i, sizeof i);  // the consumer checks it is this frame
    producer.put(frame);
    ++r.produced;
    now = monotonic_ns();
  }
  r.seconds = static_cast<double>(now - start) / 1e9;
  settle();
  const auto parts = crew.finish(true);
  if (!parts.empty() && parts[0].size() == 5) {
    r.consumed = parts[0][0];
    r.lost = parts[0][1];
    r.wrong = parts[0][2];
  }
  producer.cleanup();
  return r;
}

// ---- JSON

std::string context_json(const Options& o) {
  std::ostringstream s;
  s << "{" << machine_json_fields() << ", \"samples\": " << o.samples
    << ", \"rounds\": " << o.rounds << ", \"warmup\": " << o.warmup
    << ", \"rate_hz\": " << o.rate_hz << ", \"frame_bytes\": " << o.bytes << "}";
  return s.str();
}

std::string to_json(const LatencyResult& r) {
  char buf[512];
  std::snprintf(buf, sizeof buf,
                "{\"path\": \"%s\", \"consumers\": %d, \"expected\": %llu, \"count\": %zu, "
                "\"p50_us\": %.2f, \"p90_us\": %.2f, \"p99_us\": %.2f, \"max_us\": %.2f, "
                "\"mean_us\": %.2f, \"put_p50_us\": %.2f, \"put_p99_us\": %.2f, "
                "\"consumer_dropped\": %llu}",
                r.path.c_str(), r.consumers, static_cast<unsigned long long>(r.expected),
                r.summary.count, r.summary.p50_us, r.summary.p90_us, r.summary.p99_us,
                r.summary.max_us, r.summary.mean_us, r.put.p50_us, r.put.p99_us,
                static_cast<unsigned long long>(r.consumer_dropped));
  return buf;
}

std::string to_json(const FpsResult& r) {
  char buf[512];
  std::snprintf(
      buf, sizeof buf,
      "{\"notify\": \"%s\", \"frame_bytes\": %lld, \"seconds\": %.3f, \"produced\": %lld, "
      "\"produced_fps\": %.1f, \"consumed\": %lld, \"consumed_fps\": %.1f, "
      "\"consumer_lost\": %lld, \"consumer_wrong\": %lld}",
      r.notify.c_str(), static_cast<long long>(r.frame_bytes), r.seconds,
      static_cast<long long>(r.produced), static_cast<double>(r.produced) / r.seconds,
      static_cast<long long>(r.consumed), static_cast<double>(r.consumed) / r.seconds,
      static_cast<long long>(r.lost), static_cast<long long>(r.wrong));
  return buf;
}

template <typename T>
std::string json_list(const std::vector<T>& items) {
  std::string s = "[";
  for (size_t i = 0; i < items.size(); ++i) s += (i ? ",\n    " : "\n    ") + to_json(items[i]);
  return s + (items.empty() ? "]" : "\n  ]");
}

int run_all(const Options& o) {
  BenchDaemon daemon;
  ::setenv("TENSOR_IPC_SOCKET", daemon.socket_path().c_str(), 1);  // children inherit it
  // Every configuration in every round, each library path right after its
  // floor; samples merged per configuration.
  const std::vector<std::string> paths = {"futex_ping", "futex", "grpc_hop", "grpc_relay",
                                          "stream"};
  std::map<std::pair<std::string, int>, RunResult> runs;
  const uint64_t per_round = (o.samples + o.rounds - 1) / o.rounds;
  for (int round = 0; round < o.rounds; ++round) {
    for (int n : o.consumers) {
      for (const std::string& path : paths) {
        if (!o.wants(path)) continue;
        RunResult r;
        if (path == "futex_ping") r = run_ping(daemon, n, per_round, o);
        if (path == "futex") r = run_library(daemon, NotifyPath::kFutex, n, per_round, round, o);
        if (path == "grpc_hop") r = run_hop(daemon, n, per_round, o);
        if (path == "grpc_relay") r = run_relay(daemon, n, per_round, o);
        if (path == "stream") r = run_library(daemon, NotifyPath::kStream, n, per_round, round, o);
        RunResult& all = runs[{path, n}];
        all.samples_ns.insert(all.samples_ns.end(), r.samples_ns.begin(), r.samples_ns.end());
        all.put_ns.insert(all.put_ns.end(), r.put_ns.begin(), r.put_ns.end());
        all.consumer_dropped += r.consumer_dropped;
      }
    }
    std::fprintf(stderr, "latency: round %d of %d done\n", round + 1, o.rounds);
  }
  std::vector<LatencyResult> latency;
  for (int n : o.consumers) {
    for (const std::string& path : paths) {
      auto it = runs.find({path, n});
      if (it == runs.end()) continue;
      LatencyResult r{path,
                      n,
                      per_round * o.rounds * n,
                      summarize(it->second.samples_ns),
                      summarize(it->second.put_ns),
                      it->second.consumer_dropped};
      std::fprintf(stderr,
                   "%-10s x%d: p50 %7.1f us  p90 %7.1f  p99 %7.1f  max %8.1f  (%zu/%llu samples, "
                   "dropped %llu)\n",
                   r.path.c_str(), r.consumers, r.summary.p50_us, r.summary.p90_us,
                   r.summary.p99_us, r.summary.max_us, r.summary.count,
                   static_cast<unsigned long long>(r.expected),
                   static_cast<unsigned long long>(r.consumer_dropped));
      if (r.put.count > 0) {
        std::fprintf(stderr, "%-10s x%d: put() p50 %5.1f us  p90 %5.1f  p99 %6.1f\n",
                     r.path.c_str(), r.consumers, r.put.p50_us, r.put.p90_us, r.put.p99_us);
      }
      latency.push_back(std::move(r));
    }
  }
  std::vector<FpsResult> fps;
  if (o.wants("fps")) {
    for (NotifyPath p : {NotifyPath::kFutex, NotifyPath::kStream}) {
      fps.push_back(run_fps(daemon, p, o));
      const FpsResult& r = fps.back();
      std::fprintf(stderr, "fps (%s consumer): produced %.0f/s, consumed %.0f/s, lost %lld\n",
                   r.notify.c_str(), r.produced / r.seconds, r.consumed / r.seconds,
                   static_cast<long long>(r.lost));
    }
  }
  const std::string json = "{\n  \"context\": " + context_json(o) +
                           ",\n  \"latency\": " + json_list(latency) +
                           ",\n  \"fps\": " + json_list(fps) + "\n}\n";
  write_report(o.out, json);
  return 0;
}

[[noreturn]] void usage(const std::string& why) {
  std::fprintf(stderr,
               "tipc_bench_latency: %s\nusage: tipc_bench_latency [--out FILE] [--samples 2000] "
               "[--warmup 100] [--rate 500] [--bytes 4096] [--consumers 1,8] [--rounds 4] "
               "[--fps-seconds 3] "
               "[--only futex_ping,futex,grpc_hop,grpc_relay,stream,fps]\n",
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
    const NotifyPath notify = flag("notify") == "futex" ? NotifyPath::kFutex : NotifyPath::kStream;
    if (role == "consumer") {
      const PoolSpec spec{flag("name"), {std::stoll(flag("bytes"))}, DType::kUInt8, 4};
      return run_latency_consumer(spec, notify, std::stoull(flag("warmup")), flag("out"));
    }
    if (role == "fps-consumer") {
      PoolSpec spec{flag("name"), {}, *parse_dtype(flag("dtype")), 4};
      for (const auto& d : split(flag("shape"), ',')) spec.shape.push_back(std::stoll(d));
      return run_fps_consumer(spec, notify, flag("out"));
    }
    if (role == "ping-waiter") {
      return run_ping_waiter(flag("shm"), std::stoull(flag("warmup")), flag("out"));
    }
    if (role == "hop-relay") return run_hop_relay(flag("socket"));
    if (role == "hop-client") {
      return run_hop_client(flag("socket"), std::stoull(flag("warmup")), flag("out"));
    }
    if (!role.empty()) usage("unknown role " + role);

    Options o;
    o.out = flag("out");
    o.samples = std::stoull(flag("samples", "2000"));
    o.warmup = std::stoull(flag("warmup", "100"));
    o.rate_hz = std::stod(flag("rate", "500"));
    o.bytes = std::stoll(flag("bytes", "4096"));
    o.fps_seconds = std::stod(flag("fps-seconds", "3"));
    o.rounds = std::stoi(flag("rounds", "4"));
    if (flag.given("consumers")) {
      o.consumers.clear();
      for (const auto& c : split(flag("consumers"), ',')) o.consumers.push_back(std::stoi(c));
    }
    for (const auto& w : split(flag("only"), ',')) o.only.insert(w);
    if (o.bytes < 8 || o.rate_hz <= 0 || o.rounds < 1) {
      usage("--bytes must be >= 8, --rate > 0 and --rounds >= 1");
    }
    return run_all(o);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "tipc_bench_latency: %s\n", e.what());
    return 1;
  }
}
