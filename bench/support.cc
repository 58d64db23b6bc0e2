#include "support.h"

#include <pthread.h>

#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <thread>

namespace tensoripc::bench {

void sleep_until_monotonic(int64_t t_ns) {
  timespec ts{static_cast<time_t>(t_ns / 1'000'000'000), static_cast<long>(t_ns % 1'000'000'000)};
  while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, nullptr) == EINTR) {
  }
}

std::string self_exe() {
  std::error_code ec;
  const auto p = std::filesystem::read_symlink("/proc/self/exe", ec);
  if (ec) throw std::runtime_error("cannot read /proc/self/exe: " + ec.message());
  return p.string();
}

std::string daemon_binary() {
  if (const char* env = std::getenv("TENSORIPC_DAEMON"); env && *env) return env;
  return TENSORIPC_DAEMON_BINARY;
}

namespace {

bool socket_accepts(const std::string& path) {
  const int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return false;
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::snprintf(addr.sun_path, sizeof addr.sun_path, "%s", path.c_str());
  const bool ok = ::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
  ::close(fd);
  return ok;
}

}  // namespace

BenchDaemon::BenchDaemon(const std::vector<std::string>& extra_args) {
  std::string templ = std::filesystem::temp_directory_path().string() + "/tipc-bench-XXXXXX";
  if (!::mkdtemp(templ.data())) throw std::runtime_error("mkdtemp failed");
  dir_ = templ;
  socket_path_ = dir_ + "/tensor-ipcd.sock";
  shm_prefix_ = "tipcbench" + std::to_string(::getpid()) + ".";
  std::vector<std::string> argv{daemon_binary(), "--socket",    socket_path_, "--shm-prefix",
                                shm_prefix_,     "--retention", "remove",     "--log-level",
                                "warn"};
  argv.insert(argv.end(), extra_args.begin(), extra_args.end());
  child_.emplace(argv);
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (!socket_accepts(socket_path_)) {
    if (child_->wait(std::chrono::milliseconds(0))) {
      throw std::runtime_error("tensor-ipcd (" + daemon_binary() + ") exited at start");
    }
    if (std::chrono::steady_clock::now() > deadline) {
      throw std::runtime_error("tensor-ipcd made no socket at " + socket_path_ + " in 20 s");
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
}

BenchDaemon::~BenchDaemon() {
  child_->signal(SIGTERM);
  if (!child_->wait(std::chrono::seconds(10))) child_.reset();  // SIGKILL
  std::error_code ec;
  std::filesystem::remove_all(dir_, ec);
}

std::string machine_json_fields() {
  utsname u{};
  ::uname(&u);
  char date[64];
  const std::time_t t = std::time(nullptr);
  std::strftime(date, sizeof date, "%Y-%m-%dT%H:%M:%S%z", std::localtime(&t));
  std::string cpu = "?";
  std::ifstream info("/proc/cpuinfo");
  for (std::string line; std::getline(info, line);) {
    if (line.rfind("model name", 0) == 0) {
      cpu = line.substr(line.find(':') + 2);
      break;
    }
  }
  double load[3] = {-1, -1, -1};
  std::ifstream("/proc/loadavg") >> load[0] >> load[1] >> load[2];
  std::ostringstream s;
  s << "\"date\": \"" << date << "\", \"host\": \"" << u.nodename << "\", \"kernel\": \""
    << u.release << "\", \"cpu\": \"" << cpu
    << "\", \"num_cpus\": " << std::thread::hardware_concurrency() << ", \"load_avg\": [" << load[0]
    << ", " << load[1] << ", " << load[2] << "]";
  return s.str();
}

double cpu_seconds(pid_t pid) {
  std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
  std::string line;
  if (!std::getline(stat, line)) return -1;
  // After the command's name in parentheses (which may hold spaces): state
  // is field 3, utime and stime fields 14 and 15.
  const size_t end = line.rfind(')');
  if (end == std::string::npos) return -1;
  std::istringstream fields(line.substr(end + 2));
  std::string skip;
  for (int field = 3; field < 14; ++field) fields >> skip;
  unsigned long long utime = 0, stime = 0;
  if (!(fields >> utime >> stime)) return -1;
  return static_cast<double>(utime + stime) / static_cast<double>(::sysconf(_SC_CLK_TCK));
}

LatencySummary summarize(std::vector<int64_t> v) {
  LatencySummary s;
  s.count = v.size();
  if (v.empty()) return s;
  std::sort(v.begin(), v.end());
  auto pct = [&](double p) {
    const size_t k = std::min(v.size() - 1, static_cast<size_t>(p * static_cast<double>(v.size())));
    return static_cast<double>(v[k]) / 1e3;
  };
  s.p50_us = pct(0.50);
  s.p90_us = pct(0.90);
  s.p99_us = pct(0.99);
  s.max_us = static_cast<double>(v.back()) / 1e3;
  double sum = 0;
  for (int64_t x : v) sum += static_cast<double>(x);
  s.mean_us = sum / static_cast<double>(v.size()) / 1e3;
  return s;
}

bool write_samples(const std::string& path, const std::vector<int64_t>& samples) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(reinterpret_cast<const char*>(samples.data()),
            static_cast<std::streamsize>(samples.size() * sizeof(int64_t)));
  return static_cast<bool>(out);
}

double median(std::vector<double> v) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  const size_t n = v.size();
  return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

void write_report(const std::string& path, const std::string& text) {
  if (path.empty()) {
    std::fputs(text.c_str(), stdout);
  } else {
    std::ofstream(path) << text;
  }
}

std::vector<int64_t> read_samples(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::vector<int64_t> out;
  int64_t x;
  while (in.read(reinterpret_cast<char*>(&x), sizeof x)) out.push_back(x);
  return out;
}

std::vector<std::string> split(const std::string& s, char sep) {
  std::vector<std::string> out;
  std::stringstream in(s);
  for (std::string item; std::getline(in, item, sep);) {
    if (!item.empty()) out.push_back(item);
  }
  return out;
}

void wait_for_stop(const sigset_t& stop) {
  int sig = 0;
  sigwait(&stop, &sig);
}

void settle() { std::this_thread::sleep_for(std::chrono::milliseconds(200)); }

void Crew::start(int n, const std::vector<std::string>& role_args) {
  for (int i = 0; i < n; ++i) {
    const std::string out = dir_ + "/" + tag_ + "-" + std::to_string(i) + ".bin";
    std::vector<std::string> argv = {self_exe()};
    argv.insert(argv.end(), role_args.begin(), role_args.end());
    argv.insert(argv.end(), {"--out", out});
    files_.push_back(out);
    children_.push_back(std::make_unique<Child>(argv));
  }
  for (auto& c : children_) {
    if (!c->wait_for_line("ready", std::chrono::seconds(20))) {
      throw std::runtime_error(tag_ + ": a child process did not get ready");
    }
  }
}

std::vector<std::vector<int64_t>> Crew::finish(bool terminate) {
  std::vector<std::vector<int64_t>> all;
  dropped_ = missed_ = 0;
  for (size_t i = 0; i < children_.size(); ++i) {
    if (terminate) children_[i]->signal(SIGTERM);
    if (auto line = children_[i]->wait_for_line("dropped ", std::chrono::seconds(15))) {
      dropped_ += std::stoull(line->substr(8));
    }
    if (auto line = children_[i]->wait_for_line("missed ", std::chrono::seconds(5))) {
      missed_ += std::stoull(line->substr(7));
    }
    const auto st = children_[i]->wait(std::chrono::seconds(15));
    if (!st || !WIFEXITED(*st) || WEXITSTATUS(*st) != 0) {
      std::fprintf(stderr, "%s: child %zu ended badly\n", tag_.c_str(), i);
    }
    all.push_back(read_samples(files_[i]));
    std::remove(files_[i].c_str());
  }
  children_.clear();
  files_.clear();
  return all;
}

}  // namespace tensoripc::bench
