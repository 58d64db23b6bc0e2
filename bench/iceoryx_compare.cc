// tipc_bench_iceoryx: tensor-ipc beside Eclipse iceoryx 2.0 (Debian's
// packages), the same frames at the same rates, measured the same way, in
// interleaved rounds so that both see the same load:
//
//   latency  the producer writes CLOCK_REALTIME into the frame's first 8
//            bytes just before it writes the frame; the subscriber, another
//            process, reads the stamp from shared memory when notified
//            (zero-copy: a view, iceoryx's take) and records now - stamp.
//   put      the producer's call: tensor-ipc put() (the copy into the slot,
//            the publish, the wake), iceoryx loan + the same copy + publish.
//
// Implementations: iceoryx (RouDi, the publisher and the subscriber each in
// a process of its own, the subscriber woken through a WaitSet), tensor-ipc on
// the futex path and on the stream path (tensor-ipcd in a child, the
// producer here, the consumer a child taking a view() in its callback).
//
//   tipc_bench_iceoryx [--out FILE] [--samples 2000] [--slow-samples 300]
//       [--rounds 3] [--warmup 100] [--only iceoryx,futex,stream] [--history 4]
//       [--configs 8@1000,4096@1000,1048576@1000,3686400@1000,3686400@30]
//
// Needs no RouDi of its own running: it starts one (with memory pools sized
// for these frames) and stops it at the end.
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
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
#include "iceoryx_hoofs/log/logmanager.hpp"
#include "iceoryx_hoofs/posix_wrapper/posix_access_rights.hpp"
#include "iceoryx_posh/iceoryx_posh_config.hpp"
#include "iceoryx_posh/popo/untyped_publisher.hpp"
#include "iceoryx_posh/popo/untyped_subscriber.hpp"
#include "iceoryx_posh/popo/wait_set.hpp"
#include "iceoryx_posh/roudi/iceoryx_roudi_app.hpp"
#include "iceoryx_posh/runtime/posh_runtime.hpp"
#include "support.h"

namespace tensoripc::bench {
namespace {

struct Config {
  int64_t bytes = 0;
  double rate_hz = 0;
  std::string label() const {
    std::ostringstream s;
    s << bytes << " B @ " << rate_hz << " Hz";
    return s.str();
  }
};

struct Options {
  std::string out;
  uint64_t samples = 2000;      // per configuration at >= 100 Hz, over all rounds
  uint64_t slow_samples = 300;  // at < 100 Hz
  uint64_t warmup = 100;
  int rounds = 3;
  uint32_t history_len = 4;  // tensor-ipc's ring (iceoryx recycles one chunk)
  std::vector<Config> configs = {
      {8, 1000}, {4096, 1000}, {1 << 20, 1000}, {3686400, 1000}, {3686400, 30}};
  std::set<std::string> only;
  bool wants(const std::string& w) const { return only.empty() || only.count(w) > 0; }
  uint64_t samples_for(const Config& c) const { return c.rate_hz >= 100 ? samples : slow_samples; }
};

// Registers this process with RouDi as "<prefix>_<pid>", with the runtime's
// chatter (debug by default in Debian's build) turned down to warnings.
void start_runtime(const std::string& prefix) {
  iox::log::LogManager::GetLogManager().SetDefaultLogLevel(iox::log::LogLevel::kWarn);
  const std::string name = prefix + "_" + std::to_string(::getpid());
  iox::runtime::PoshRuntime::initRuntime(
      iox::RuntimeName_t(iox::cxx::TruncateToCapacity, name.c_str()));
}

iox::capro::ServiceDescription service_of(const std::string& tag) {
  return {"TensorIpcBench", "Frames",
          iox::capro::IdString_t(iox::cxx::TruncateToCapacity, tag.c_str())};
}

// ---- children

volatile sig_atomic_t g_stop = 0;
void on_stop(int) { g_stop = 1; }

// RouDi, iceoryx's broker, with one shared-memory segment whose pools hold
// the largest frame of the run.
int run_roudi() {
  iox::mepoo::MePooConfig pools;
  pools.addMemPool({128, 512});
  pools.addMemPool({8192, 256});
  pools.addMemPool({(1 << 20) + 4096, 48});
  pools.addMemPool({3686400 + 4096, 48});
  iox::RouDiConfig_t roudi_config;
  const auto group = iox::posix::PosixGroup::getGroupOfCurrentProcess().getName();
  roudi_config.m_sharedMemorySegments.push_back({group, group, pools});
  roudi_config.iox::config::RouDiConfig::setDefaults();
  iox::config::CmdLineArgs_t args;
  args.logLevel = iox::log::LogLevel::kWarn;
  iox::roudi::IceOryxRouDiApp roudi(args, roudi_config);
  return roudi.run();  // until SIGTERM / SIGINT
}

// An iceoryx subscriber: woken by a WaitSet, takes every sample, records
// now - the stamp in its first 8 bytes for samples after the warm-up.
int run_iox_subscriber(const std::string& tag, uint64_t warmup, const std::string& out) {
  ::signal(SIGTERM, on_stop);
  start_runtime("tipc_sub");
  iox::popo::SubscriberOptions options;
  options.queueCapacity = 256;
  iox::popo::UntypedSubscriber sub(service_of(tag), options);
  iox::popo::WaitSet<> waitset;
  if (waitset.attachState(sub, iox::popo::SubscriberState::HAS_DATA).has_error()) return 3;
  std::printf("ready\n");
  std::fflush(stdout);
  std::vector<int64_t> samples;
  samples.reserve(1 << 16);
  uint64_t n = 0;
  while (!g_stop) {
    waitset.timedWait(iox::units::Duration::fromMilliseconds(100));
    for (;;) {
      auto taken = sub.take();
      if (taken.has_error()) break;
      const void* payload = taken.value();
      int64_t stamp = 0;
      std::memcpy(&stamp, payload, sizeof stamp);
      const int64_t now = realtime_ns();
      if (++n > warmup) samples.push_back(now - stamp);
      sub.release(payload);
    }
  }
  std::printf("dropped 0\nmissed 0\n");
  std::fflush(stdout);
  return write_samples(out, samples) ? 0 : 1;
}

// ---- the run

struct Result {
  std::vector<int64_t> latency_ns;
  std::vector<int64_t> put_ns;
  uint64_t dropped = 0, missed = 0;
};

// One subscriber child (a Crew of one), its numbers added to `r` at the end.
class Subscriber {
 public:
  Subscriber(const std::string& dir, const std::string& tag, const std::vector<std::string>& args)
      : crew_(dir, tag) {
    crew_.start(1, args);
  }
  void finish(Result& r) {
    for (const auto& samples : crew_.finish(true)) {
      r.latency_ns.insert(r.latency_ns.end(), samples.begin(), samples.end());
    }
    r.dropped += crew_.dropped();
    r.missed += crew_.missed();
  }

 private:
  Crew crew_;
};

// The frame source: pre-faulted, stamped just before each write.
struct Source {
  explicit Source(int64_t bytes) : data(static_cast<size_t>(bytes), 7) {}
  void stamp() {
    const int64_t now = realtime_ns();
    std::memcpy(data.data(), &now, sizeof now);
  }
  std::vector<uint8_t> data;
};

// An iceoryx publisher (its own process: RouDi ends the processes
// registered with it when it stops, so the orchestrator never registers):
// loan, the copy, publish, paced; the put times go to `out`.
int run_iox_publisher(const std::string& tag, int64_t bytes, double rate_hz, uint64_t total,
                      uint64_t warmup, const std::string& out) {
  start_runtime("tipc_pub");
  iox::popo::PublisherOptions options;
  options.historyCapacity = 0;
  iox::popo::UntypedPublisher pub(service_of(tag), options);
  // The subscriber is up already; let the connection settle as for the library.
  for (int i = 0; i < 200 && !pub.hasSubscribers(); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  std::vector<uint8_t> src(static_cast<size_t>(bytes), 7);  // pre-faulted
  std::vector<int64_t> put_ns;
  put_ns.reserve(total);
  uint64_t failed = 0;
  paced(total, rate_hz, [&](uint64_t i) {
    const int64_t t0 = monotonic_ns();
    const int64_t stamp = realtime_ns();
    std::memcpy(src.data(), &stamp, sizeof stamp);
    auto loaned = pub.loan(static_cast<uint32_t>(bytes));
    if (loaned.has_error()) {
      ++failed;
      return;
    }
    std::memcpy(loaned.value(), src.data(), src.size());
    pub.publish(loaned.value());
    if (i > warmup) put_ns.push_back(monotonic_ns() - t0);
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  if (failed > 0)
    std::fprintf(stderr, "iceoryx publisher: %llu loans failed\n",
                 static_cast<unsigned long long>(failed));
  return write_samples(out, put_ns) ? 0 : 1;
}

void run_iceoryx(const std::string& dir, const Config& c, uint64_t samples, int round,
                 const Options& o, Result& r) {
  const std::string tag = "iox_" + std::to_string(c.bytes) + "_" +
                          std::to_string(static_cast<int>(c.rate_hz)) + "_r" +
                          std::to_string(round);
  Subscriber sub(dir, tag,
                 {"--role", "iox-sub", "--tag", tag, "--warmup", std::to_string(o.warmup)});
  const std::string put_file = dir + "/" + tag + "-put.bin";
  {
    std::ostringstream rate;
    rate << c.rate_hz;
    Child pub({self_exe(), "--role", "iox-pub", "--tag", tag, "--bytes", std::to_string(c.bytes),
               "--rate", rate.str(), "--total", std::to_string(o.warmup + samples), "--warmup",
               std::to_string(o.warmup), "--out", put_file});
    const double seconds = static_cast<double>(o.warmup + samples) / c.rate_hz + 30;
    const auto st = pub.wait(std::chrono::milliseconds(static_cast<int64_t>(seconds * 1000)));
    if (!st || !WIFEXITED(*st) || WEXITSTATUS(*st) != 0) {
      std::fprintf(stderr, "%s: the iceoryx publisher ended badly\n", tag.c_str());
    }
  }
  const auto put = read_samples(put_file);
  r.put_ns.insert(r.put_ns.end(), put.begin(), put.end());
  std::remove(put_file.c_str());
  sub.finish(r);
}

void run_tipc(const BenchDaemon& daemon, NotifyPath notify, const Config& c, uint64_t samples,
              int round, const Options& o, Result& r) {
  const std::string tag = std::string(notify == NotifyPath::kFutex ? "futex" : "stream") + "_" +
                          std::to_string(c.bytes) + "_" +
                          std::to_string(static_cast<int>(c.rate_hz)) + "_r" +
                          std::to_string(round);
  const PoolSpec spec{tag, {c.bytes}, DType::kUInt8, o.history_len};
  Producer producer(spec.metadata());
  Subscriber sub(
      daemon.dir(), tag,
      {"--role", "tipc-sub", "--name", spec.name, "--bytes", std::to_string(c.bytes), "--history",
       std::to_string(o.history_len), "--notify", notify == NotifyPath::kFutex ? "futex" : "stream",
       "--warmup", std::to_string(o.warmup)});
  settle();
  Source src(c.bytes);
  const TensorView view(src.data.data(), spec.dtype, Shape(spec.shape));
  paced(o.warmup + samples, c.rate_hz, [&](uint64_t i) {
    const int64_t t0 = monotonic_ns();
    src.stamp();
    producer.put(view);
    if (i > o.warmup) r.put_ns.push_back(monotonic_ns() - t0);
  });
  settle();
  sub.finish(r);
  producer.cleanup();
}

std::string result_json(const std::string& impl, const Config& c, const Result& r) {
  const LatencySummary l = summarize(r.latency_ns);
  const LatencySummary p = summarize(r.put_ns);
  char buf[640];
  std::snprintf(buf, sizeof buf,
                "{\"impl\": \"%s\", \"bytes\": %lld, \"rate_hz\": %g, \"count\": %zu, "
                "\"p50_us\": %.2f, \"p90_us\": %.2f, \"p99_us\": %.2f, \"max_us\": %.2f, "
                "\"over_1ms\": %.4f, \"put_p50_us\": %.2f, \"put_p99_us\": %.2f, "
                "\"dropped\": %llu, \"missed\": %llu}",
                impl.c_str(), static_cast<long long>(c.bytes), c.rate_hz, l.count, l.p50_us,
                l.p90_us, l.p99_us, l.max_us,
                r.latency_ns.empty() ? 0.0
                                     : static_cast<double>(std::count_if(
                                           r.latency_ns.begin(), r.latency_ns.end(),
                                           [](int64_t ns) { return ns > 1'000'000; })) /
                                           static_cast<double>(r.latency_ns.size()),
                p.p50_us, p.p99_us, static_cast<unsigned long long>(r.dropped),
                static_cast<unsigned long long>(r.missed));
  return buf;
}

int run_all(const Options& o) {
  BenchDaemon daemon;
  ::setenv("TENSOR_IPC_SOCKET", daemon.socket_path().c_str(), 1);  // children inherit it
  std::unique_ptr<Child> roudi;
  if (o.wants("iceoryx")) {
    roudi = std::make_unique<Child>(std::vector<std::string>{self_exe(), "--role", "roudi"});
    // RouDi says nothing on stdout when ready; the runtimes wait for it.
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
  }
  const std::vector<std::string> impls = {"iceoryx", "futex", "stream"};
  std::map<std::pair<std::string, size_t>, Result> results;
  for (int round = 0; round < o.rounds; ++round) {
    for (size_t ci = 0; ci < o.configs.size(); ++ci) {
      const Config& c = o.configs[ci];
      const uint64_t per_round = (o.samples_for(c) + o.rounds - 1) / o.rounds;
      for (const std::string& impl : impls) {
        if (!o.wants(impl)) continue;
        Result& r = results[{impl, ci}];
        if (impl == "iceoryx") run_iceoryx(daemon.dir(), c, per_round, round, o, r);
        if (impl == "futex") run_tipc(daemon, NotifyPath::kFutex, c, per_round, round, o, r);
        if (impl == "stream") run_tipc(daemon, NotifyPath::kStream, c, per_round, round, o, r);
      }
    }
    std::fprintf(stderr, "iceoryx comparison: round %d of %d done\n", round + 1, o.rounds);
  }
  std::string rows;
  for (size_t ci = 0; ci < o.configs.size(); ++ci) {
    for (const std::string& impl : impls) {
      auto it = results.find({impl, ci});
      if (it == results.end()) continue;
      const LatencySummary l = summarize(it->second.latency_ns);
      const LatencySummary p = summarize(it->second.put_ns);
      std::fprintf(stderr, "%-20s %-8s p50 %7.1f us  p99 %8.1f  put p50 %6.1f us  (%zu samples)\n",
                   o.configs[ci].label().c_str(), impl.c_str(), l.p50_us, l.p99_us, p.p50_us,
                   l.count);
      rows += (rows.empty() ? "\n    " : ",\n    ") + result_json(impl, o.configs[ci], it->second);
    }
  }
  std::ostringstream context;
  context << "{" << machine_json_fields() << ", \"rounds\": " << o.rounds
          << ", \"samples\": " << o.samples << ", \"slow_samples\": " << o.slow_samples
          << ", \"warmup\": " << o.warmup << ", \"history_len\": " << o.history_len
          << ", \"iceoryx\": \"2.0.3\"}";
  const std::string json =
      "{\n  \"context\": " + context.str() + ",\n  \"results\": [" + rows + "\n  ]\n}\n";
  write_report(o.out, json);
  if (roudi) {
    roudi->signal(SIGTERM);
    roudi->wait(std::chrono::seconds(10));
  }
  return 0;
}

[[noreturn]] void usage(const std::string& why) {
  std::fprintf(stderr,
               "tipc_bench_iceoryx: %s\nusage: tipc_bench_iceoryx [--out FILE] [--samples 2000] "
               "[--slow-samples 300] [--rounds 3] [--warmup 100] [--only iceoryx,futex,stream] "
               "[--configs BYTES@HZ,...] [--history 4]\n",
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
    if (role == "roudi") return run_roudi();
    if (role == "iox-pub") {
      return run_iox_publisher(flag("tag"), std::stoll(flag("bytes")), std::stod(flag("rate")),
                               std::stoull(flag("total")), std::stoull(flag("warmup")),
                               flag("out"));
    }
    if (role == "iox-sub") {
      return run_iox_subscriber(flag("tag"), std::stoull(flag("warmup")), flag("out"));
    }
    if (role == "tipc-sub") {
      const PoolSpec spec{flag("name"),
                          {std::stoll(flag("bytes"))},
                          DType::kUInt8,
                          static_cast<uint32_t>(std::stoul(flag("history", "4")))};
      return run_view_consumer(spec,
                               flag("notify") == "futex" ? NotifyPath::kFutex : NotifyPath::kStream,
                               std::stoull(flag("warmup")), flag("out"));
    }
    if (!role.empty()) usage("unknown role " + role);
    Options o;
    o.out = flag("out");
    o.samples = std::stoull(flag("samples", "2000"));
    o.slow_samples = std::stoull(flag("slow-samples", "300"));
    o.warmup = std::stoull(flag("warmup", "100"));
    o.rounds = std::stoi(flag("rounds", "3"));
    o.history_len = static_cast<uint32_t>(std::stoul(flag("history", "4")));
    for (const auto& w : split(flag("only"), ',')) o.only.insert(w);
    if (flag.given("configs")) {
      o.configs.clear();
      for (const auto& c : split(flag("configs"), ',')) {
        const auto at = c.find('@');
        if (at == std::string::npos) usage("a config is BYTES@HZ, not " + c);
        o.configs.push_back({std::stoll(c.substr(0, at)), std::stod(c.substr(at + 1))});
      }
    }
    for (const Config& c : o.configs) {
      if (c.bytes < 8 || c.rate_hz <= 0) usage("frames of 8 bytes or more, at a rate above 0");
    }
    if (o.rounds < 1) usage("--rounds must be at least 1");
    return run_all(o);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "tipc_bench_iceoryx: %s\n", e.what());
    return 1;
  }
}
