// hz, bw, echo, snapshot: the commands that map a pool and read its frames,
// as any consumer does (Consumer::attach: the metadata from the daemon).
#include <chrono>
#include <cmath>
#include <condition_variable>
#include <cstdio>
#include <deque>
#include <mutex>
#include <thread>
#include <vector>

#include "commands.h"
#include "format.h"
#include "json.h"
#include "snapshot.h"
#include "tensoripc/tensoripc.h"
#include "values.h"

namespace tensoripc::cli {
namespace {

int64_t now_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

ConsumerOptions consumer_options(const Common& c) {
  ConsumerOptions o;
  o.socket_path = c.socket;
  o.connect_timeout = std::chrono::milliseconds(c.timeout_ms);
  return o;
}

// Attaches to `name`, waiting (until stopped) for it to exist when `wait`.
std::optional<Consumer> attach(const Common& c, const std::string& name, uint32_t history_len,
                               ConsumerOptions options, bool wait) {
  bool said = false;
  while (!g_stop.load()) {
    try {
      return Consumer::attach(name, history_len, options);
    } catch (const PoolNotFoundError&) {
      if (!wait) throw;
      if (!said) {
        std::fprintf(stderr, "waiting for pool '%s' ...\n", name.c_str());
        said = true;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(200));
    }
  }
  return std::nullopt;
}

// Sleeps until `pred`, a stop, or `timeout`; returns pred().
template <typename Pred>
bool wait_until(std::unique_lock<std::mutex>& lock, std::condition_variable& cv,
                std::chrono::milliseconds timeout, Pred pred) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!pred() && !g_stop.load() && std::chrono::steady_clock::now() < deadline) {
    cv.wait_for(lock, std::chrono::milliseconds(50));
  }
  return pred();
}

}  // namespace

int run_rate(const Common& c, const std::string& name, const RateOptions& o) {
  struct Stamp {
    uint64_t seq;
    int64_t ts;
  };
  std::mutex mu;
  std::vector<Stamp> pending;
  ConsumerOptions options = consumer_options(c);
  // Seq and stamp are all a rate needs: no frame is copied, and the pool's
  // futex word tells of frames without a stream to the daemon.
  options.notify = NotifyPath::kFutex;
  options.callback_reads_frame = false;
  options.keep_last = 1024;
  options.on_new_data = [&](const Frame& f) {
    if (f.seq == 0) return;
    std::lock_guard<std::mutex> lock(mu);
    pending.push_back({f.seq, f.timestamp_ns});
  };
  std::optional<Consumer> consumer = attach(c, name, 0, options, true);
  if (!consumer) return 0;
  const uint64_t frame_bytes = consumer->metadata().frame_bytes();

  std::deque<double> window;  // seconds between consecutive frames
  uint64_t last_seq = 0;
  int64_t last_ts = 0;
  uint64_t missed = 0;
  uint64_t reports = 0;
  while (!g_stop.load()) {
    const auto wake = std::chrono::steady_clock::now() +
                      std::chrono::microseconds(static_cast<int64_t>(o.period_s * 1e6));
    while (!g_stop.load() && std::chrono::steady_clock::now() < wake) {
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    std::vector<Stamp> got;
    {
      std::lock_guard<std::mutex> lock(mu);
      got.swap(pending);
    }
    for (const Stamp& s : got) {
      if (s.seq < last_seq) {
        // A pool made anew (a GPU pool's new producer, retention remove, rm)
        // counts from 1 again: its rate is a new one.
        window.clear();
        last_seq = 0;
        missed = 0;
      }
      if (s.seq == last_seq) continue;
      if (last_seq != 0 && s.seq == last_seq + 1) {
        window.push_back(static_cast<double>(s.ts - last_ts) / 1e9);
        if (window.size() > o.window) window.pop_front();
      } else if (last_seq != 0) {
        missed += s.seq - last_seq - 1;
      }
      last_seq = s.seq;
      last_ts = s.ts;
    }
    if (got.empty() || window.empty()) {
      if (!c.json && got.empty() && !g_stop.load()) std::printf("no new frames\n");
      std::fflush(stdout);
      continue;
    }
    double sum = 0;
    double lo = window.front();
    double hi = window.front();
    for (double d : window) {
      sum += d;
      lo = std::min(lo, d);
      hi = std::max(hi, d);
    }
    const double mean = sum / static_cast<double>(window.size());
    double var = 0;
    for (double d : window) var += (d - mean) * (d - mean);
    const double std_dev = std::sqrt(var / static_cast<double>(window.size()));
    const double rate = mean > 0 ? 1.0 / mean : 0.0;
    const double bw = rate * static_cast<double>(frame_bytes);
    if (c.json) {
      Json j;
      j.begin_object().field("pool", name).field("rate_hz", rate);
      if (o.bandwidth) j.field("bytes_per_s", bw).field("frame_bytes", frame_bytes);
      j.field("min_s", lo).field("max_s", hi).field("std_dev_s", std_dev);
      j.field("window", window.size()).field("missed", missed).field("latest_seq", last_seq);
      j.end_object();
      std::printf("%s\n", j.str().c_str());
    } else if (o.bandwidth) {
      std::printf("%s/s from %s frames at %.3f Hz (window %zu)\n",
                  format_bytes(bw).c_str(), format_bytes(static_cast<double>(frame_bytes)).c_str(),
                  rate, window.size());
    } else {
      std::printf("average rate: %.3f\n\tmin: %.6fs max: %.6fs std dev: %.6fs window: %zu%s\n",
                  rate, lo, hi, std_dev, window.size(),
                  missed != 0 ? strprintf(" missed: %llu",
                                          static_cast<unsigned long long>(missed))
                                    .c_str()
                              : "");
    }
    std::fflush(stdout);
    if (o.count != 0 && ++reports >= o.count) break;
  }
  return 0;
}

int run_echo(const Common& c, const std::string& name, const EchoOptions& o) {
  constexpr size_t kMaxPendingLines = 1024;
  struct Line {
    uint64_t seq;
    int64_t ts;
    int64_t received;
    ValueStats stats;
  };
  std::mutex mu;
  std::condition_variable cv;
  std::deque<Line> lines;
  ConsumerOptions options = consumer_options(c);
  options.on_new_data = [&](const Frame& f) {
    if (f.seq == 0) return;
    Line line{f.seq, f.timestamp_ns, now_ns(), value_stats(f.tensor)};
    std::lock_guard<std::mutex> lock(mu);
    // A reader that stopped reading our output (a paused pager) must not make
    // us hold every frame's line: keep the newest.
    if (lines.size() >= kMaxPendingLines) lines.pop_front();
    lines.push_back(line);
    cv.notify_all();
  };
  std::optional<Consumer> consumer = attach(c, name, 1, options, true);
  if (!consumer) return 0;
  const PoolMetadata md = consumer->metadata();

  auto print = [&](const Line& l) {
    const double latency_us = static_cast<double>(l.received - l.ts) / 1e3;
    if (c.json) {
      Json j;
      j.begin_object().field("pool", name).field("seq", l.seq);
      j.field("time", format_time(l.ts)).field("timestamp_ns", static_cast<long long>(l.ts));
      j.field("latency_us", latency_us);
      j.key("shape").array(md.shape).field("dtype", std::string(md.dtype_str()));
      j.field("min", l.stats.min).field("max", l.stats.max).field("mean", l.stats.mean);
      if (l.stats.non_finite != 0) j.field("non_finite", l.stats.non_finite);
      j.end_object();
      std::printf("%s\n", j.str().c_str());
    } else {
      std::printf("seq %llu  %s  latency %s  %s %s  min %.6g  max %.6g  mean %.6g%s\n",
                  static_cast<unsigned long long>(l.seq), format_time(l.ts).c_str(),
                  format_duration(latency_us / 1e6).c_str(), format_shape(md.shape).c_str(),
                  std::string(md.dtype_str()).c_str(), l.stats.min, l.stats.max, l.stats.mean,
                  l.stats.non_finite != 0
                      ? strprintf("  non-finite %zu", l.stats.non_finite).c_str()
                      : "");
    }
    std::fflush(stdout);
  };

  const uint64_t limit = o.once ? 1 : o.count;
  uint64_t printed = 0;
  uint64_t last_seq = 0;
  if (o.once) {
    // The latest frame when there is one; else the first to come.
    if (std::optional<FrameHistory> h = consumer->read(1); h && h->seqs[0] != 0) {
      print({h->seqs[0], h->timestamps_ns[0], now_ns(), value_stats(h->tensor)});
      return 0;
    }
  }
  std::unique_lock<std::mutex> lock(mu);
  while (!g_stop.load()) {
    wait_until(lock, cv, std::chrono::milliseconds(200), [&] { return !lines.empty(); });
    while (!lines.empty()) {
      const Line l = lines.front();
      lines.pop_front();
      if (l.seq == last_seq) continue;  // lower: a pool made anew counts from 1 again
      last_seq = l.seq;
      lock.unlock();
      print(l);
      lock.lock();
      if (limit != 0 && ++printed >= limit) return 0;
    }
  }
  return 0;
}

int run_snapshot(const Common& c, const std::string& name, const SnapshotOptions& o) {
  std::string format = o.format;
  if (format.empty()) {
    const auto dot = o.output.rfind('.');
    format = dot == std::string::npos ? "" : o.output.substr(dot + 1);
    for (char& ch : format) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
  }
  if (format != "npy" && format != "png") {
    std::fprintf(stderr,
                 "tensor-ipc: snapshot writes .npy or .png; '%s' is neither (name the file "
                 "*.npy or *.png, or give --format)\n",
                 o.output.c_str());
    return 1;
  }
  std::optional<Consumer> consumer = attach(c, name, 1, consumer_options(c), false);
  if (!consumer) return 1;
  std::optional<FrameHistory> h = consumer->read(1);
  if (!h || h->seqs[0] == 0) {
    std::fprintf(stderr, "tensor-ipc: pool '%s' has no frame yet\n", name.c_str());
    return 1;
  }
  const TensorView frame(h->tensor.data(), h->tensor.dtype(), h->tensor.shape());
  if (format == "png") {
    if (auto why = not_an_image(frame)) {
      std::fprintf(stderr, "tensor-ipc: no PNG of pool '%s': %s; write .npy instead\n",
                   name.c_str(), why->c_str());
      return 1;
    }
    write_png(o.output, frame, o.range);
  } else {
    write_npy(o.output, frame);
  }
  if (c.json) {
    Json j;
    j.begin_object().field("pool", name).field("seq", h->seqs[0]);
    j.field("time", format_time(h->timestamps_ns[0])).field("file", o.output);
    j.field("format", format).key("shape").array(frame.shape().to_vector());
    j.field("dtype", std::string(dtype_name(frame.dtype()))).end_object();
    std::printf("%s\n", j.str().c_str());
  } else {
    std::printf("wrote %s: pool '%s' seq %llu (%s), %s %s\n", o.output.c_str(), name.c_str(),
                static_cast<unsigned long long>(h->seqs[0]),
                format_time(h->timestamps_ns[0]).c_str(), format_shape(frame.shape().to_vector()).c_str(),
                std::string(dtype_name(frame.dtype())).c_str());
  }
  return 0;
}

}  // namespace tensoripc::cli
