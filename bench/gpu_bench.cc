// tipc_bench_gpu: GPU pools beside bare CUDA copies, in the same run, against
// a real tensor-ipcd this program starts.
//
// Per frame size (3,686,400 B: 640x480 RGB float32; 33,177,600 B: 1080p RGBA
// float32), medians over --iters:
//   bare_d2d    cudaMemcpyAsync device -> device of the same bytes + sync
//   put         Producer::put of a device frame + sync of its stream (the
//               copy complete: what a consumer can then read)
//   read_d2d    Consumer::read_into a device buffer (waits on the slot's
//               event, copies, syncs)
//   get_host    Consumer::get(): the frame copied to host memory
// and across processes, put -> consumer ready: a futex consumer in a child
// process wakes, takes view() (its stream made to wait on the slot's event)
// and synchronises its stream; the sample is that moment minus the frame's
// timestamp (taken by put after queuing the copy), beside the bare copy time.
//
// Without a usable GPU it prints why and exits 0. With
// TENSORIPC_CUDA_BACKEND=host-double it runs on the library's host double
// ("device" memory is host memory, copies are memcpy): a check of the
// harness and of the library's overhead around the copy, not a GPU number.
//
//   tipc_bench_gpu [--iters 200] [--latency-frames 300] [--rate 200] [--json FILE]
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <stdexcept>
#include <string>
#include <vector>

#ifdef TIPC_HAVE_CUDA
#include <cuda_runtime_api.h>
#endif

#include "support.h"
#include "tensoripc/tensoripc.h"

namespace tensoripc::bench {
namespace {

volatile sig_atomic_t g_stop = 0;

// Device memory and copies: the CUDA runtime, or host memory for the double.
class Gpu {
 public:
  Gpu() {
    const char* backend = std::getenv("TENSORIPC_CUDA_BACKEND");
    double_ = backend != nullptr && std::strcmp(backend, "host-double") == 0;
  }
  bool is_double() const { return double_; }
  // "" when usable, else why not.
  std::string unusable() const {
    if (double_) return "";
#ifdef TIPC_HAVE_CUDA
    int n = 0;
    const cudaError_t err = cudaGetDeviceCount(&n);
    if (err != cudaSuccess) return std::string("cudaGetDeviceCount: ") + cudaGetErrorString(err);
    if (n == 0) return "no CUDA device";
    return "";
#else
    return "built without the CUDA toolkit";
#endif
  }
  void* alloc(size_t bytes) {
    void* p = nullptr;
#ifdef TIPC_HAVE_CUDA
    if (!double_) {
      check(cudaMalloc(&p, bytes), "cudaMalloc");
      check(cudaMemset(p, 1, bytes), "cudaMemset");
      return p;
    }
#endif
    p = std::malloc(bytes);
    std::memset(p, 1, bytes);
    return p;
  }
  void free(void* p) {
#ifdef TIPC_HAVE_CUDA
    if (!double_) {
      cudaFree(p);
      return;
    }
#endif
    std::free(p);
  }
  CudaStream stream() {
#ifdef TIPC_HAVE_CUDA
    if (!double_) {
      cudaStream_t s = nullptr;
      check(cudaStreamCreateWithFlags(&s, cudaStreamNonBlocking), "cudaStreamCreate");
      return s;
    }
#endif
    return nullptr;
  }
  void copy(void* dst, const void* src, size_t bytes, CudaStream s) {
#ifdef TIPC_HAVE_CUDA
    if (!double_) {
      check(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDeviceToDevice,
                            static_cast<cudaStream_t>(s)),
            "cudaMemcpyAsync");
      return;
    }
#endif
    std::memcpy(dst, src, bytes);
  }
  void sync(CudaStream s) {
#ifdef TIPC_HAVE_CUDA
    if (!double_) check(cudaStreamSynchronize(static_cast<cudaStream_t>(s)), "sync");
#endif
    (void)s;
  }

 private:
#ifdef TIPC_HAVE_CUDA
  static void check(cudaError_t e, const char* what) {
    if (e != cudaSuccess) throw std::runtime_error(std::string(what) + ": " + cudaGetErrorString(e));
  }
#endif
  bool double_ = false;
};

PoolMetadata pool_of(const std::string& name, size_t bytes) {
  return PoolMetadata::create(name, {static_cast<int64_t>(bytes / 4)}, DType::kFloat32, 4,
                              "cuda:0");
}

template <typename F>
double median_us(int iters, F&& op) {
  std::vector<int64_t> ns;
  for (int i = 0; i < iters + 5; ++i) {
    const int64_t t0 = monotonic_ns();
    op();
    if (i >= 5) ns.push_back(monotonic_ns() - t0);  // 5 warm-up rounds
  }
  std::nth_element(ns.begin(), ns.begin() + ns.size() / 2, ns.end());
  return ns[ns.size() / 2] / 1e3;
}

// The child: a futex consumer that records frame -> ready for seq > 10.
int run_ready_consumer(const std::string& name, size_t bytes, const std::string& out) {
  signal(SIGTERM, [](int) { g_stop = 1; });
  Gpu gpu;
  ConsumerOptions o;
  o.notify = NotifyPath::kFutex;
  o.cuda_stream = gpu.stream();
  Consumer consumer(pool_of(name, bytes), o);
  while (consumer.status().state != PoolState::kLive && !g_stop) usleep(1000);
  std::printf("ready\n");
  std::fflush(stdout);
  std::vector<int64_t> samples;
  while (!g_stop) {
    if (!consumer.wait_for_frame(std::chrono::milliseconds(100))) continue;
    auto v = consumer.view();
    if (!v) continue;
    gpu.sync(o.cuda_stream);  // the frame is complete on our stream now
    const int64_t ready = realtime_ns();
    if (v->seq() > 10) samples.push_back(ready - v->timestamp_ns());
  }
  write_samples(out, samples);
  return 0;
}

struct Row {
  size_t bytes;
  double bare, put, read_d2d, get_host;
  LatencySummary ready;
};

int run(const Flags& flag) {
  Gpu gpu;
  if (const std::string why = gpu.unusable(); !why.empty()) {
    std::printf("tipc_bench_gpu: skipped: no usable GPU (%s)\n", why.c_str());
    return 0;
  }
  const int iters = std::stoi(flag("iters", "200"));
  const uint64_t latency_frames = std::stoull(flag("latency-frames", "300"));
  const double rate = std::stod(flag("rate", "200"));
  BenchDaemon daemon;
  ::setenv("TENSOR_IPC_SOCKET", daemon.socket_path().c_str(), 1);
  std::vector<Row> rows;
  for (size_t bytes : {size_t{3'686'400}, size_t{33'177'600}}) {
    const std::string name = "gpubench" + std::to_string(bytes);
    ProducerOptions po;
    po.cuda_stream = gpu.stream();
    Producer producer(pool_of(name, bytes), po);
    ConsumerOptions co;
    co.cuda_stream = gpu.stream();
    Consumer consumer(pool_of(name, bytes), co);
    void* src = gpu.alloc(bytes);
    void* dst = gpu.alloc(bytes);
    const TensorView frame(src, DType::kFloat32, {static_cast<int64_t>(bytes / 4)},
                           Device::cuda(0));
    Row r{};
    r.bytes = bytes;
    r.bare = median_us(iters, [&] {
      gpu.copy(dst, src, bytes, po.cuda_stream);
      gpu.sync(po.cuda_stream);
    });
    r.put = median_us(iters, [&] {
      producer.put(frame);
      gpu.sync(po.cuda_stream);
    });
    while (consumer.status().state != PoolState::kLive) usleep(1000);
    r.read_d2d = median_us(iters, [&] { consumer.read_into(dst, bytes); });
    r.get_host = median_us(std::max(iters / 4, 10), [&] { consumer.get(); });

    Crew crew(daemon.dir(), "ready" + std::to_string(bytes));
    crew.start(1, {"--role", "ready-consumer", "--name", name, "--bytes", std::to_string(bytes)});
    settle();
    paced(latency_frames, rate, [&](uint64_t) { producer.put(frame); });
    settle();
    auto samples = crew.finish(true);
    r.ready = summarize(samples.empty() ? std::vector<int64_t>{} : samples[0]);
    rows.push_back(r);
    gpu.free(src);
    gpu.free(dst);
  }
  std::printf("tipc_bench_gpu (%s)\n", gpu.is_double() ? "HOST DOUBLE: not a GPU" : "CUDA");
  std::printf("%12s %10s %10s %7s %10s %10s %12s %12s\n", "bytes", "bare_us", "put_us",
              "put/bare", "read_us", "get_host", "ready_p50", "ready_p99");
  std::string json = "{" + machine_json_fields() + ", \"backend\": \"" +
                     (gpu.is_double() ? "host-double" : "cuda") + "\", \"rows\": [";
  for (size_t i = 0; i < rows.size(); ++i) {
    const Row& r = rows[i];
    std::printf("%12zu %10.1f %10.1f %7.2f %10.1f %10.1f %12.1f %12.1f\n", r.bytes, r.bare, r.put,
                r.put / r.bare, r.read_d2d, r.get_host, r.ready.p50_us, r.ready.p99_us);
    char buf[512];
    std::snprintf(buf, sizeof buf,
                  "%s{\"bytes\": %zu, \"bare_d2d_us\": %.2f, \"put_us\": %.2f, \"read_d2d_us\": "
                  "%.2f, \"get_host_us\": %.2f, \"ready_p50_us\": %.2f, \"ready_p99_us\": %.2f, "
                  "\"ready_samples\": %zu}",
                  i ? ", " : "", r.bytes, r.bare, r.put, r.read_d2d, r.get_host, r.ready.p50_us,
                  r.ready.p99_us, r.ready.count);
    json += buf;
  }
  json += "]}\n";
  if (flag.given("json")) std::ofstream(flag("json")) << json;
  return 0;
}

}  // namespace
}  // namespace tensoripc::bench

int main(int argc, char** argv) {
  using namespace tensoripc::bench;
  auto usage = [](const std::string& why) {
    std::fprintf(stderr, "tipc_bench_gpu: %s\n", why.c_str());
    std::exit(2);
  };
  try {
    const Flags flag(argc, argv, usage);
    if (flag("role") == "ready-consumer") {
      return run_ready_consumer(flag("name"), std::stoull(flag("bytes")), flag("out"));
    }
    return run(flag);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "tipc_bench_gpu: %s\n", e.what());
    return 1;
  }
}
