#include "futex_ping.h"

#include <fcntl.h>
#include <linux/futex.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <climits>
#include <cstdio>
#include <new>
#include <stdexcept>
#include <vector>

#include "support.h"

namespace tensoripc::bench {
namespace {

static_assert(sizeof(std::atomic<uint32_t>) == sizeof(uint32_t), "futex words are 32 bits");

long futex(std::atomic<uint32_t>* word, int op, uint32_t value, const timespec* timeout) {
  return ::syscall(SYS_futex, reinterpret_cast<uint32_t*>(word), op, value, timeout, nullptr, 0);
}

PingPage* map_page(int fd) {
  void* p = ::mmap(nullptr, sizeof(PingPage), PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  ::close(fd);
  if (p == MAP_FAILED) throw std::runtime_error("cannot map the ping page");
  return static_cast<PingPage*>(p);
}

}  // namespace

Pinger::Pinger() : name_("/tipcbench" + std::to_string(::getpid()) + ".ping") {
  const int fd = ::shm_open(name_.c_str(), O_RDWR | O_CREAT | O_TRUNC, 0600);
  if (fd < 0 || ::ftruncate(fd, sizeof(PingPage)) != 0) {
    throw std::runtime_error("cannot create " + name_);
  }
  page_ = new (map_page(fd)) PingPage();
}

Pinger::~Pinger() {
  ::munmap(page_, sizeof(PingPage));
  ::shm_unlink(name_.c_str());
}

void Pinger::ping(uint64_t seq) {
  page_->sent_ns.store(realtime_ns(), std::memory_order_relaxed);
  page_->seq.store(seq, std::memory_order_relaxed);
  page_->word.fetch_add(1, std::memory_order_release);
  futex(&page_->word, FUTEX_WAKE, INT_MAX, nullptr);
}

void Pinger::stop() {
  page_->stop.store(1, std::memory_order_relaxed);
  page_->word.fetch_add(1, std::memory_order_release);
  futex(&page_->word, FUTEX_WAKE, INT_MAX, nullptr);
}

int run_ping_waiter(const std::string& shm_name, uint64_t warmup, const std::string& out) {
  const int fd = ::shm_open(shm_name.c_str(), O_RDWR, 0);
  if (fd < 0) {
    std::fprintf(stderr, "ping waiter: cannot open %s\n", shm_name.c_str());
    return 1;
  }
  PingPage* page = map_page(fd);
  std::vector<int64_t> samples;
  samples.reserve(1 << 16);
  uint32_t seen = page->word.load(std::memory_order_acquire);
  std::printf("ready\n");
  std::fflush(stdout);
  const timespec timeout{0, 100'000'000};  // re-check the stop flag now and then
  while (!page->stop.load(std::memory_order_relaxed)) {
    futex(&page->word, FUTEX_WAIT, seen, &timeout);
    const uint32_t now_word = page->word.load(std::memory_order_acquire);
    if (now_word == seen) continue;  // timeout or spurious
    const int64_t now = realtime_ns();
    seen = now_word;
    if (page->seq.load(std::memory_order_relaxed) > warmup &&
        !page->stop.load(std::memory_order_relaxed)) {
      samples.push_back(now - page->sent_ns.load(std::memory_order_relaxed));
    }
  }
  ::munmap(page, sizeof(PingPage));
  return write_samples(out, samples) ? 0 : 1;
}

}  // namespace tensoripc::bench
