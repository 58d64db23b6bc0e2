// tipc_bench_copy: the cost of Producer::put, the copying Consumer::get and
// the zero-copy Consumer::view, each beside a plain memcpy of the same bytes
// in the same run, against a real tensor-ipcd this program starts.
//
// Per frame size:
//   memcpy/N          heap -> heap, both pre-faulted: the target's baseline
//   memcpy_to_shm/N   heap -> a pre-faulted shared mapping of our own
//   put/N             Producer::put of the same heap frame (history_len 1)
//   fill_put/N        a frame made (memset) in the producer's buffer, then put
//   loan_fill/N       the same frame made in a loaned slot, then committed
//   loan_commit/N     Producer::loan() + Loan::commit() alone
//   memcpy_from_shm/N a pre-faulted shared mapping -> pre-faulted heap
//   get/N             Consumer::get() (owning copy of the latest frame)
//   get_into/N        Consumer::get_into(t): into the same Tensor each time
//   read_into/N       Consumer::read_into(dst, n): into a pre-faulted heap buffer
//   view/N            Consumer::view() + FrameView::still_valid()
//   memcpy_paced/N    memcpy/N and put/N at 1 kHz instead of back to back:
//   put_paced/N       a tight loop mostly queues put's notices to the daemon,
//                     while at camera rates every put sends its notice at
//                     once, on the caller's thread
//
// The two shm baselines separate what the memory costs (shared 4 KiB pages)
// from what the library adds. Usual Google Benchmark flags apply, e.g.
// --benchmark_out=copy.json --benchmark_out_format=json.
#include <benchmark/benchmark.h>
#include <stdlib.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstring>
#include <map>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "common/shm.h"
#include "support.h"
#include "tensoripc/tensoripc.h"

namespace tensoripc::bench {
namespace {

struct FrameKind {
  size_t bytes;
  std::vector<int64_t> shape;
  DType dtype;
};

// 4 KiB and 1 MiB of bytes; a 640x480 RGB float32 camera frame (3,686,400 B);
// a 1920x1080 RGBA float32 frame (33,177,600 B).
const std::vector<FrameKind>& frame_kinds() {
  static const std::vector<FrameKind> kinds = {
      {4096, {4096}, DType::kUInt8},
      {1 << 20, {1 << 20}, DType::kUInt8},
      {3'686'400, {480, 640, 3}, DType::kFloat32},
      {33'177'600, {1080, 1920, 4}, DType::kFloat32},
  };
  return kinds;
}

// A heap buffer touched page by page, so no benchmark pays its page faults.
struct HeapBuffer {
  explicit HeapBuffer(size_t n)
      : bytes(n), data(static_cast<char*>(std::aligned_alloc(64, round(n)))) {
    for (size_t i = 0; i < n; ++i) data[i] = static_cast<char>(i * 131 + 7);
  }
  ~HeapBuffer() { std::free(data); }
  HeapBuffer(const HeapBuffer&) = delete;
  HeapBuffer& operator=(const HeapBuffer&) = delete;
  static size_t round(size_t n) { return (n + 63) / 64 * 64; }
  size_t bytes;
  char* data;
};

// A shared mapping of our own (unlinked at once: the mapping keeps it),
// pre-faulted, to tell shared memory's own cost from the library's.
struct ShmBuffer {
  explicit ShmBuffer(size_t n) : bytes(n) {
    const std::string name = "/tipcbench" + std::to_string(::getpid()) + ".memcpy";
    auto file = ShmFile::create(name, n, 0600);
    if (!file.ok()) throw std::runtime_error(file.status().message());
    ShmFile::unlink(name);
    auto map = Mapping::map(*file, 0, n, Mapping::Access::kReadWrite, true);
    if (!map.ok()) throw std::runtime_error(map.status().message());
    mapping = std::move(*map);
    data = static_cast<char*>(mapping.data());
    std::memset(data, 1, n);
  }
  size_t bytes;
  Mapping mapping;
  char* data;
};

// Everything one frame size needs, made on first use and kept for the run:
// a producer on "put<N>" (no consumer, so puts pay no fan-out), and a
// producer + consumer on "get<N>" holding one frame.
struct Fixture {
  explicit Fixture(const FrameKind& k)
      : kind(k), src(k.bytes), dst(k.bytes), shm(k.bytes), frame(src.data, k.dtype, k.shape) {}

  Producer& put_producer() {
    if (!put_pool) {
      put_pool.emplace(
          PoolMetadata::create("put" + std::to_string(kind.bytes), kind.shape, kind.dtype, 1));
    }
    return *put_pool;
  }
  Consumer& get_consumer() {
    if (!get_pool) {
      const auto md =
          PoolMetadata::create("get" + std::to_string(kind.bytes), kind.shape, kind.dtype, 1);
      get_pool.emplace(md);
      get_pool->put(frame);
      consumer.emplace(md);
    }
    return *consumer;
  }

  FrameKind kind;
  HeapBuffer src, dst;
  ShmBuffer shm;
  TensorView frame;
  std::optional<Producer> put_pool, get_pool;
  std::optional<Consumer> consumer;
};

std::map<size_t, std::unique_ptr<Fixture>>* g_fixtures = nullptr;

Fixture& fixture(const FrameKind& k) {
  auto& f = (*g_fixtures)[k.bytes];
  if (!f) f = std::make_unique<Fixture>(k);
  return *f;
}

void finish(benchmark::State& state, const FrameKind& k) {
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations()) * static_cast<int64_t>(k.bytes));
  state.counters["frame_bytes"] = static_cast<double>(k.bytes);
}

void bm_memcpy(benchmark::State& state, const FrameKind& k) {
  Fixture& f = fixture(k);
  for (auto _ : state) {
    std::memcpy(f.dst.data, f.src.data, k.bytes);
    benchmark::ClobberMemory();
  }
  finish(state, k);
}

void bm_memcpy_to_shm(benchmark::State& state, const FrameKind& k) {
  Fixture& f = fixture(k);
  for (auto _ : state) {
    std::memcpy(f.shm.data, f.src.data, k.bytes);
    benchmark::ClobberMemory();
  }
  finish(state, k);
}

// A producer that makes its frame (here: fills it) in its own buffer and
// puts it, beside one that makes it in a loaned slot and commits: the loan
// saves put()'s copy. loan_commit alone is the loan's own cost.
void bm_fill_put(benchmark::State& state, const FrameKind& k) {
  Fixture& f = fixture(k);
  Producer& p = f.put_producer();
  std::vector<uint8_t> own(k.bytes);
  const TensorView view(own.data(), k.dtype, Shape(k.shape));
  int fill = 0;
  for (auto _ : state) {
    std::memset(own.data(), ++fill & 0xff, k.bytes);
    benchmark::DoNotOptimize(p.put(view));
  }
  finish(state, k);
}

void bm_loan_fill(benchmark::State& state, const FrameKind& k) {
  Fixture& f = fixture(k);
  Producer& p = f.put_producer();
  int fill = 0;
  for (auto _ : state) {
    Loan loan = p.loan();
    std::memset(loan.data(), ++fill & 0xff, k.bytes);
    benchmark::DoNotOptimize(loan.commit());
  }
  finish(state, k);
}

void bm_loan_commit(benchmark::State& state, const FrameKind& k) {
  Fixture& f = fixture(k);
  Producer& p = f.put_producer();
  for (auto _ : state) {
    Loan loan = p.loan();
    benchmark::DoNotOptimize(loan.commit());
  }
  finish(state, k);
}

void bm_put(benchmark::State& state, const FrameKind& k) {
  Fixture& f = fixture(k);
  Producer& p = f.put_producer();
  for (auto _ : state) {
    benchmark::DoNotOptimize(p.put(f.frame));
  }
  finish(state, k);
}

void bm_memcpy_from_shm(benchmark::State& state, const FrameKind& k) {
  Fixture& f = fixture(k);
  for (auto _ : state) {
    std::memcpy(f.dst.data, f.shm.data, k.bytes);
    benchmark::ClobberMemory();
  }
  finish(state, k);
}

void bm_get(benchmark::State& state, const FrameKind& k) {
  Consumer& c = fixture(k).get_consumer();
  for (auto _ : state) {
    std::optional<Tensor> t = c.get();
    benchmark::DoNotOptimize(t->data());
  }
  finish(state, k);
}

void bm_get_into(benchmark::State& state, const FrameKind& k) {
  Consumer& c = fixture(k).get_consumer();
  Tensor t;
  for (auto _ : state) {
    benchmark::DoNotOptimize(c.get_into(t));
    benchmark::ClobberMemory();
  }
  finish(state, k);
}

void bm_read_into(benchmark::State& state, const FrameKind& k) {
  Fixture& f = fixture(k);
  Consumer& c = f.get_consumer();
  for (auto _ : state) {
    benchmark::DoNotOptimize(c.read_into(f.dst.data, k.bytes));
    benchmark::ClobberMemory();
  }
  finish(state, k);
}

void bm_view(benchmark::State& state, const FrameKind& k) {
  Consumer& c = fixture(k).get_consumer();
  for (auto _ : state) {
    std::optional<FrameView> v = c.view();
    benchmark::DoNotOptimize(v->tensor().data());
    benchmark::DoNotOptimize(v->still_valid());
  }
  state.counters["frame_bytes"] = static_cast<double>(k.bytes);
}

// One frame per millisecond, as a sensor or a control loop publishes; only
// the call is timed (manual time).
void bm_paced(benchmark::State& state, const FrameKind& k, bool put) {
  Fixture& f = fixture(k);
  Producer* p = put ? &f.put_producer() : nullptr;
  for (auto _ : state) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
    const int64_t t0 = monotonic_ns();
    if (p) {
      p->put(f.frame);
    } else {
      std::memcpy(f.dst.data, f.src.data, k.bytes);
      benchmark::ClobberMemory();
    }
    state.SetIterationTime(static_cast<double>(monotonic_ns() - t0) / 1e9);
  }
  finish(state, k);
}
void bm_memcpy_paced(benchmark::State& state, const FrameKind& k) { bm_paced(state, k, false); }
void bm_put_paced(benchmark::State& state, const FrameKind& k) { bm_paced(state, k, true); }

// A consumer attaching to a pool that holds a frame: Subscribe, the first
// event, the pool's memory (the descriptor channel), the mapping pre-faulted,
// until the constructor returns. A one-time cost per consumer; only the
// constructor is timed (manual time).
void bm_attach(benchmark::State& state, const FrameKind& k) {
  Fixture& f = fixture(k);
  f.get_consumer();  // the pool exists and holds a frame
  const auto md = PoolMetadata::create("get" + std::to_string(k.bytes), k.shape, k.dtype, 1);
  for (auto _ : state) {
    const int64_t t0 = monotonic_ns();
    std::optional<Consumer> c;
    c.emplace(md);
    state.SetIterationTime(static_cast<double>(monotonic_ns() - t0) / 1e9);
    c.reset();
  }
  state.counters["frame_bytes"] = static_cast<double>(k.bytes);
}

void register_all() {
  using Fn = void (*)(benchmark::State&, const FrameKind&);
  const std::vector<std::pair<const char*, Fn>> benches = {
      {"memcpy", bm_memcpy},
      {"memcpy_to_shm", bm_memcpy_to_shm},
      {"put", bm_put},
      {"fill_put", bm_fill_put},
      {"loan_fill", bm_loan_fill},
      {"loan_commit", bm_loan_commit},
      {"memcpy_from_shm", bm_memcpy_from_shm},
      {"get", bm_get},
      {"get_into", bm_get_into},
      {"read_into", bm_read_into},
      {"view", bm_view},
  };
  // Size by size, baseline first, so each comparison runs back to back.
  for (const FrameKind& k : frame_kinds()) {
    for (const auto& [name, fn] : benches) {
      const std::string full = std::string(name) + "/" + std::to_string(k.bytes);
      benchmark::RegisterBenchmark(full.c_str(), fn, k)->UseRealTime()->MinTime(0.2);
    }
  }
  for (const FrameKind& k : frame_kinds()) {
    for (const auto& [name, fn] : {std::pair<const char*, Fn>{"memcpy_paced", bm_memcpy_paced},
                                   std::pair<const char*, Fn>{"put_paced", bm_put_paced}}) {
      const std::string full = std::string(name) + "/" + std::to_string(k.bytes);
      benchmark::RegisterBenchmark(full.c_str(), fn, k)->UseManualTime()->Iterations(200);
    }
  }
  for (const FrameKind& k : frame_kinds()) {
    const std::string full = "attach/" + std::to_string(k.bytes);
    benchmark::RegisterBenchmark(full.c_str(), bm_attach, k)->UseManualTime()->Iterations(50);
  }
}

}  // namespace
}  // namespace tensoripc::bench

int main(int argc, char** argv) {
  using namespace tensoripc::bench;
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 2;
  try {
    BenchDaemon daemon;
    ::setenv("TENSOR_IPC_SOCKET", daemon.socket_path().c_str(), 1);
    std::map<size_t, std::unique_ptr<Fixture>> fixtures;
    g_fixtures = &fixtures;
    register_all();
    benchmark::RunSpecifiedBenchmarks();
    benchmark::Shutdown();
    fixtures.clear();  // clients go before their daemon
    g_fixtures = nullptr;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "tipc_bench_copy: %s\n", e.what());
    return 1;
  }
  return 0;
}
