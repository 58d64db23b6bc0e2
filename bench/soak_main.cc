// tipc_soak: a bounded run of everything at once, for what only time shows
// (leaks, lost wake-ups, torn frames under churn). Not a test: run it by hand.
//
//   tipc_soak [--seconds 600] [--rate 1000] [--bytes 4096] [--consumers 8]
//       [--kill-every 60] [--flood-every 120] [--flood 500] [--flood-for 10]
//       [--out FILE]
//
// A producer process puts frames carrying the test pattern (tests/client/
// frame_pattern.h) at --rate; it is SIGKILLed every --kill-every seconds and
// a new one resumes the pool. --consumers consumer processes, half on the
// stream path and half on the futex path, check every frame their callback
// gets. Every --flood-every seconds a flooder process holds --flood Subscribe
// streams that never read on the same pool for --flood-for seconds. The
// daemon's RSS and open descriptors are sampled every second. At the end:
// frames published, and per consumer frames, torn (must be 0), out of order
// (must be 0), dropped and skipped; the daemon's RSS and descriptors at the
// start, their peak and at the end. JSON to --out, a summary on stderr.
#include <dirent.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <fstream>
#include <map>
#include <memory>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "flooder.h"
#include "support.h"
#include "tensoripc/tensoripc.h"
#include "tests/client/frame_pattern.h"

namespace tensoripc::bench {
namespace {

using testing::check_test_frame;
using testing::fill_test_frame;
using testing::FrameCheck;

constexpr uint32_t kHistory = 16;
constexpr char kPool[] = "soak";

PoolMetadata pool_metadata(int64_t bytes) {
  return PoolMetadata::create(kPool, {bytes}, DType::kUInt8, kHistory);
}

// A producer until SIGKILL: resumes the pool and continues its sequence.
int run_producer(int64_t bytes, double rate_hz) {
  // The daemon may not have seen the last producer's death yet.
  std::unique_ptr<Producer> held;
  for (int tries = 0; !held; ++tries) {
    try {
      held = std::make_unique<Producer>(pool_metadata(bytes));
    } catch (const TopicTakenError&) {
      if (tries > 200) throw;
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
  }
  Producer& producer = *held;
  std::printf("ready\n");
  std::fflush(stdout);
  std::vector<uint8_t> frame(static_cast<size_t>(bytes));
  const TensorView view(frame.data(), DType::kUInt8, {bytes});
  const int64_t period = static_cast<int64_t>(1e9 / rate_hz);
  int64_t next = monotonic_ns();
  for (;;) {
    next += period;
    sleep_until_monotonic(next);
    fill_test_frame(frame.data(), frame.size(), producer.latest_seq() + 1);
    producer.put(view);
  }
}

// A consumer until SIGTERM: checks every frame its callback gets, then
// prints "stats frames=.. torn=.. order=.. dropped=.. skipped=.. last=..".
int run_consumer(int64_t bytes, NotifyPath notify) {
  const sigset_t stop = block_stop_signals();
  std::atomic<uint64_t> frames{0}, torn{0}, order{0}, last{0};
  ConsumerOptions options;
  options.notify = notify;
  options.keep_last = 64;
  options.on_new_data = [&](const Frame& f) {
    uint64_t seq = 0;
    if (check_test_frame(f.tensor.data_as<uint8_t>(), f.tensor.nbytes(), &seq) !=
            FrameCheck::kIntact ||
        seq != f.seq) {
      ++torn;
    }
    if (f.seq <= last.load()) ++order;
    last = f.seq;
    ++frames;
  };
  Consumer consumer(pool_metadata(bytes), options);
  std::printf("ready\n");
  std::fflush(stdout);
  wait_for_stop(stop);
  const ConsumerStatus st = consumer.status();
  consumer.cleanup();
  std::printf("stats frames=%llu torn=%llu order=%llu dropped=%llu skipped=%llu last=%llu\n",
              (unsigned long long)frames.load(), (unsigned long long)torn.load(),
              (unsigned long long)order.load(), (unsigned long long)st.dropped,
              (unsigned long long)st.skipped, (unsigned long long)last.load());
  std::fflush(stdout);
  return 0;
}

struct Sample {
  uint64_t rss_kb = 0;
  uint64_t fds = 0;
};

Sample sample(pid_t pid) {
  Sample s;
  std::ifstream status("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(status, line)) {
    if (line.rfind("VmRSS:", 0) == 0) s.rss_kb = std::stoull(line.substr(6));
  }
  if (DIR* d = ::opendir(("/proc/" + std::to_string(pid) + "/fd").c_str())) {
    while (dirent* e = ::readdir(d)) {
      if (e->d_name[0] != '.') ++s.fds;
    }
    ::closedir(d);
  }
  return s;
}

struct Options {
  int seconds = 600;
  double rate_hz = 1000;
  int64_t bytes = 4096;
  int consumers = 8;
  int kill_every = 60;
  int flood_every = 120;
  int flood = 500;
  int flood_for = 10;
  std::string out;
};

std::unique_ptr<Child> start(const std::vector<std::string>& role) {
  std::vector<std::string> argv{self_exe()};
  argv.insert(argv.end(), role.begin(), role.end());
  auto c = std::make_unique<Child>(argv);
  if (!c->wait_for_line("ready", std::chrono::seconds(30))) {
    throw std::runtime_error("a " + role[1] + " did not get ready");
  }
  return c;
}

int run(const Options& o) {
  const std::string streams = std::to_string(o.flood + 4 * o.consumers + 64);
  // Kept pools: a restarted producer resumes the pool and its sequence (the
  // last --retention given wins over the benchmarks' default of remove).
  BenchDaemon daemon(
      {"--max-streams", streams, "--max-streams-per-uid", streams, "--retention", "keep"});
  ::setenv("TENSOR_IPC_SOCKET", daemon.socket_path().c_str(), 1);
  const pid_t dpid = daemon.pid();
  const std::string bytes = std::to_string(o.bytes), rate = std::to_string(o.rate_hz);
  const Sample first = sample(dpid);
  Sample peak = first;

  std::vector<std::unique_ptr<Child>> consumers;
  for (int i = 0; i < o.consumers; ++i) {
    consumers.push_back(start({"--role", "consumer", "--bytes", bytes, "--notify",
                               i % 2 ? "futex" : "stream"}));
  }
  auto producer = start({"--role", "producer", "--bytes", bytes, "--rate", rate});
  std::unique_ptr<Child> flooder;
  int kills = 0, floods = 0;
  int64_t flood_end = 0;
  const int64_t t0 = monotonic_ns();
  for (int s = 1; s <= o.seconds; ++s) {
    sleep_until_monotonic(t0 + static_cast<int64_t>(s) * 1'000'000'000);
    if (o.kill_every > 0 && s % o.kill_every == 0) {
      producer->signal(SIGKILL);
      producer->wait(std::chrono::seconds(10));
      producer = start({"--role", "producer", "--bytes", bytes, "--rate", rate});
      ++kills;
    }
    if (o.flood_every > 0 && s % o.flood_every == 0 && !flooder) {
      flooder = std::make_unique<Child>(std::vector<std::string>{
          self_exe(), "--role", "flooder", "--socket", daemon.socket_path(), "--flood",
          std::to_string(o.flood)});
      flood_end = s + o.flood_for;
      ++floods;
    }
    if (flooder && s >= flood_end) {
      flooder->signal(SIGTERM);
      flooder->wait(std::chrono::seconds(20));
      flooder.reset();
    }
    const Sample now = sample(dpid);
    peak.rss_kb = std::max(peak.rss_kb, now.rss_kb);
    peak.fds = std::max(peak.fds, now.fds);
  }
  if (flooder) {
    flooder->signal(SIGTERM);
    flooder->wait(std::chrono::seconds(20));
  }
  producer->signal(SIGKILL);
  producer->wait(std::chrono::seconds(10));
  std::this_thread::sleep_for(std::chrono::seconds(1));

  std::ostringstream per;
  std::map<std::string, uint64_t> total;
  uint64_t published = 0;
  for (size_t i = 0; i < consumers.size(); ++i) {
    consumers[i]->signal(SIGTERM);
    auto line = consumers[i]->wait_for_line("stats ", std::chrono::seconds(20));
    consumers[i]->wait(std::chrono::seconds(20));
    std::map<std::string, uint64_t> r;
    std::istringstream words(line ? line->substr(6) : "");
    for (std::string w; words >> w;) {
      const auto eq = w.find('=');
      if (eq != std::string::npos) r[w.substr(0, eq)] = std::stoull(w.substr(eq + 1));
    }
    published = std::max(published, r["last"]);
    for (const auto& [k, v] : r) total[k] += v;
    per << (i ? ",\n    " : "") << "{\"path\": \"" << (i % 2 ? "futex" : "stream")
        << "\", \"frames\": " << r["frames"] << ", \"torn\": " << r["torn"]
        << ", \"order\": " << r["order"] << ", \"dropped\": " << r["dropped"]
        << ", \"skipped\": " << r["skipped"] << ", \"last\": " << r["last"] << "}";
  }
  std::this_thread::sleep_for(std::chrono::seconds(2));  // the streams' ends reach the daemon
  const Sample end = sample(dpid);
  std::ostringstream json;
  json << "{\n  " << machine_json_fields() << ",\n  \"seconds\": " << o.seconds
       << ", \"rate_hz\": " << o.rate_hz << ", \"bytes\": " << o.bytes
       << ", \"producer_kills\": " << kills << ", \"floods\": " << floods
       << ", \"flood_streams\": " << o.flood << ",\n  \"published\": " << published
       << ",\n  \"consumers\": [\n    " << per.str() << "\n  ],\n  \"daemon\": {\"rss_kb\": ["
       << first.rss_kb << ", " << peak.rss_kb << ", " << end.rss_kb << "], \"fds\": ["
       << first.fds << ", " << peak.fds << ", " << end.fds << "]}\n}\n";
  write_report(o.out, json.str());
  std::fprintf(stderr,
               "soak %d s: %llu frames published, %d producer kills, %d floods of %d streams\n"
               "consumers: %llu frames, %llu torn, %llu out of order, %llu dropped, %llu "
               "skipped\n"
               "daemon RSS start/peak/end: %.1f/%.1f/%.1f MB, descriptors %llu/%llu/%llu\n",
               o.seconds, (unsigned long long)published, kills, floods, o.flood,
               (unsigned long long)total["frames"], (unsigned long long)total["torn"],
               (unsigned long long)total["order"], (unsigned long long)total["dropped"],
               (unsigned long long)total["skipped"], first.rss_kb / 1024.0, peak.rss_kb / 1024.0,
               end.rss_kb / 1024.0, (unsigned long long)first.fds, (unsigned long long)peak.fds,
               (unsigned long long)end.fds);
  return total["torn"] == 0 && total["order"] == 0 ? 0 : 1;
}

[[noreturn]] void usage(const std::string& why) {
  std::fprintf(stderr,
               "tipc_soak: %s\nusage: tipc_soak [--seconds 600] [--rate 1000] [--bytes 4096] "
               "[--consumers 8] [--kill-every 60] [--flood-every 120] [--flood 500] "
               "[--flood-for 10] [--out FILE]\n",
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
    if (role == "producer") {
      return run_producer(std::stoll(flag("bytes")), std::stod(flag("rate")));
    }
    if (role == "consumer") {
      return run_consumer(std::stoll(flag("bytes")),
                          flag("notify") == "futex" ? NotifyPath::kFutex : NotifyPath::kStream);
    }
    if (role == "flooder") return run_flooder(flag("socket"), kPool, std::stoi(flag("flood")), 10);
    if (!role.empty()) usage("unknown role " + role);
    Options o;
    o.seconds = std::stoi(flag("seconds", "600"));
    o.rate_hz = std::stod(flag("rate", "1000"));
    o.bytes = std::stoll(flag("bytes", "4096"));
    o.consumers = std::stoi(flag("consumers", "8"));
    o.kill_every = std::stoi(flag("kill-every", "60"));
    o.flood_every = std::stoi(flag("flood-every", "120"));
    o.flood = std::stoi(flag("flood", "500"));
    o.flood_for = std::stoi(flag("flood-for", "10"));
    o.out = flag("out");
    if (o.seconds < 1 || o.rate_hz <= 0 || o.bytes < 16 || o.bytes % 8 != 0 || o.consumers < 1) {
      usage("bad values (bytes: a multiple of 8, at least 16)");
    }
    return run(o);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "tipc_soak: %s\n", e.what());
    return 1;
  }
}
