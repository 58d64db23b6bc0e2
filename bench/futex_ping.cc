#include "futex_ping.h"

#include <unistd.h>

#include <cstdio>
#include <new>
#include <stdexcept>
#include <vector>

#include "common/futex.h"
#include "common/shm.h"
#include "support.h"

namespace tensoripc::bench {
namespace {

Mapping map_page(const ShmFile& file) {
  auto map = Mapping::map(file, 0, sizeof(PingPage), Mapping::Access::kReadWrite, true);
  if (!map.ok()) throw std::runtime_error(map.status().message());
  return std::move(*map);
}

}  // namespace

Pinger::Pinger() : name_("/tipcbench" + std::to_string(::getpid()) + ".ping") {
  auto file = ShmFile::create(name_, sizeof(PingPage), 0600);
  if (!file.ok()) throw std::runtime_error(file.status().message());
  mapping_ = map_page(*file);
  page_ = new (mapping_.data()) PingPage();
}

Pinger::~Pinger() { ShmFile::unlink(name_); }

void Pinger::ping(uint64_t seq) {
  page_->sent_ns.store(realtime_ns(), std::memory_order_relaxed);
  page_->seq.store(seq, std::memory_order_relaxed);
  page_->word.fetch_add(1, std::memory_order_release);
  futex_wake_all(&page_->word);
}

void Pinger::stop() {
  page_->stop.store(1, std::memory_order_relaxed);
  page_->word.fetch_add(1, std::memory_order_release);
  futex_wake_all(&page_->word);
}

int run_ping_waiter(const std::string& shm_name, uint64_t warmup, const std::string& out) {
  auto file = ShmFile::open(shm_name, true);
  if (!file.ok()) {
    std::fprintf(stderr, "ping waiter: %s\n", file.status().message().c_str());
    return 1;
  }
  const Mapping mapping = map_page(*file);
  auto* page = static_cast<PingPage*>(mapping.data());
  std::vector<int64_t> samples;
  samples.reserve(1 << 16);
  uint32_t seen = page->word.load(std::memory_order_acquire);
  std::printf("ready\n");
  std::fflush(stdout);
  while (!page->stop.load(std::memory_order_relaxed)) {
    futex_wait(&page->word, seen, 100'000'000);  // re-check the stop flag now and then
    const uint32_t now_word = page->word.load(std::memory_order_acquire);
    if (now_word == seen) continue;  // timeout or spurious
    const int64_t now = realtime_ns();
    seen = now_word;
    if (page->seq.load(std::memory_order_relaxed) > warmup &&
        !page->stop.load(std::memory_order_relaxed)) {
      samples.push_back(now - page->sent_ns.load(std::memory_order_relaxed));
    }
  }
  return write_samples(out, samples) ? 0 : 1;
}

}  // namespace tensoripc::bench
