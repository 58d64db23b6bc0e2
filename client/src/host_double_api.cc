// The host double of device::Api (device_api.h): CUDA IPC's rules on host
// shared memory, for tests on machines with no GPU.
//
//   memory   a sealed memfd labelled "tipc-cuda-double:<label>", mapped
//            read-write. Its handle names the exporter's pid and fd and the
//            file's identity; another process opens /proc/<pid>/fd/<fd>, so
//            the memory can be imported only while its exporter lives (as
//            with cudaIpcOpenMemHandle), and never in the exporter itself
//            (CUDA refuses that too).
//   events   a number in a handle; record and wait do nothing, because
//            every copy is a memcpy that is complete when copy() returns.
//   devices  TENSORIPC_HOST_DOUBLE_DEVICES: comma-separated 16-character
//            UUIDs, one per ordinal (default one: "tipc-host-double"), so a
//            test can give two processes different devices.
#include <fcntl.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <cstring>
#include <map>
#include <memory>
#include <mutex>
#include <random>

#include "common/shm.h"
#include "device_api.h"

namespace tensoripc::device {
namespace {

constexpr size_t kHandleBytes = 64;
constexpr char kMemoryMagic[8] = {'T', 'I', 'P', 'C', 'D', 'B', 'L', 'M'};
constexpr char kEventMagic[8] = {'T', 'I', 'P', 'C', 'D', 'B', 'L', 'E'};

// The handle's fields, at fixed offsets after the magic.
struct HandleFields {
  int32_t pid = 0;
  int32_t fd = 0;  // memory: the exporter's fd; event: unused
  uint64_t a = 0;  // memory: inode; event: the event's number
  uint64_t b = 0;  // memory: device number of the file
  uint64_t size = 0;
  uint64_t nonce = 0;
};

std::string pack(const char (&magic)[8], const HandleFields& f) {
  std::string h(kHandleBytes, '\0');
  std::memcpy(&h[0], magic, 8);
  std::memcpy(&h[8], &f, sizeof f);
  return h;
}

bool unpack(const std::string& h, const char (&magic)[8], HandleFields* f) {
  if (h.size() != kHandleBytes || std::memcmp(h.data(), magic, 8) != 0) return false;
  std::memcpy(f, h.data() + 8, sizeof *f);
  return true;
}

uint64_t random_nonce() {
  static std::mutex mu;
  static std::mt19937_64 rng{std::random_device{}()};
  std::lock_guard<std::mutex> lock(mu);
  return rng();
}

struct Allocation {
  ShmFile file;
  Mapping mapping;
  uint64_t nonce = 0;
};

struct DoubleEvent {
  uint64_t id = 0;
  uint64_t nonce = 0;
};

class HostDoubleApi final : public Api {
 public:
  std::string name() const override { return "host double (TENSORIPC_CUDA_BACKEND=host-double)"; }

  StatusOr<std::vector<std::string>> device_uuids() override {
    std::vector<std::string> uuids;
    const char* env = std::getenv("TENSORIPC_HOST_DOUBLE_DEVICES");
    std::string list = env && *env ? env : "tipc-host-double";
    size_t start = 0;
    while (start <= list.size()) {
      size_t comma = list.find(',', start);
      if (comma == std::string::npos) comma = list.size();
      std::string uuid = list.substr(start, comma - start);
      uuid.resize(16, '\0');
      uuids.push_back(uuid);
      start = comma + 1;
    }
    return uuids;
  }

  StatusOr<void*> allocate(int ordinal, uint64_t bytes, const std::string& label) override {
    if (Status s = check_ordinal(ordinal); !s.ok()) return s;
    auto file = ShmFile::create_sealed("tipc-cuda-double:" + label, bytes);
    if (!file.ok()) return file.status();
    auto mapping = Mapping::map(*file, 0, bytes, Mapping::Access::kReadWrite, false);
    if (!mapping.ok()) return mapping.status();
    void* base = mapping->data();
    std::lock_guard<std::mutex> lock(mu_);
    allocations_[base] = Allocation{std::move(*file), std::move(*mapping), random_nonce()};
    return base;
  }

  void release(void* base) override {
    std::lock_guard<std::mutex> lock(mu_);
    allocations_.erase(base);
  }

  StatusOr<std::string> export_memory(void* base) override {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = allocations_.find(base);
    if (it == allocations_.end()) {
      return invalid_argument("host double: not the base of an allocation of this process");
    }
    auto id = it->second.file.identity();
    if (!id.ok()) return id.status();
    HandleFields f;
    f.pid = static_cast<int32_t>(::getpid());
    f.fd = it->second.file.fd();
    f.a = id->ino;
    f.b = id->dev;
    f.size = it->second.mapping.size();
    f.nonce = it->second.nonce;
    return pack(kMemoryMagic, f);
  }

  StatusOr<void*> open_memory(const std::string& handle, int ordinal, uint64_t bytes) override {
    if (Status s = check_ordinal(ordinal); !s.ok()) return s;
    HandleFields f;
    if (!unpack(handle, kMemoryMagic, &f)) {
      return invalid_argument("host double: not a memory handle of the host double");
    }
    if (f.pid == static_cast<int32_t>(::getpid())) {
      return invalid_argument(
          "host double: a memory handle cannot be opened in the process that exported it "
          "(CUDA refuses it too: use the exporter's pointer)");
    }
    const std::string path = "/proc/" + std::to_string(f.pid) + "/fd/" + std::to_string(f.fd);
    const int fd = ::open(path.c_str(), O_RDWR | O_CLOEXEC);
    if (fd < 0) {
      return unavailable("host double: the exporting process (pid " + std::to_string(f.pid) +
                         ") is gone, and its memory with it: " + std::strerror(errno));
    }
    ShmFile file = ShmFile::adopt_fd(fd, path);
    auto id = file.identity();
    auto size = file.size();
    if (!id.ok() || !size.ok() || id->ino != f.a || id->dev != f.b || *size != f.size ||
        bytes > f.size) {
      return invalid_argument("host double: the memory handle names memory that is not there "
                              "any more (the exporter freed it)");
    }
    auto mapping = Mapping::map(file, 0, f.size, Mapping::Access::kReadWrite, false);
    if (!mapping.ok()) return mapping.status();
    void* base = mapping->data();
    std::lock_guard<std::mutex> lock(mu_);
    imports_[base] = std::move(*mapping);
    return base;
  }

  void close_memory(void* base) override {
    std::lock_guard<std::mutex> lock(mu_);
    imports_.erase(base);
  }

  StatusOr<Event> create_event(int ordinal) override {
    if (Status s = check_ordinal(ordinal); !s.ok()) return s;
    return static_cast<Event>(new DoubleEvent{next_event_.fetch_add(1) + 1, random_nonce()});
  }

  StatusOr<std::string> export_event(Event event) override {
    const auto* e = static_cast<const DoubleEvent*>(event);
    HandleFields f;
    f.pid = static_cast<int32_t>(::getpid());
    f.a = e->id;
    f.nonce = e->nonce;
    return pack(kEventMagic, f);
  }

  StatusOr<Event> open_event(const std::string& handle, int ordinal) override {
    if (Status s = check_ordinal(ordinal); !s.ok()) return s;
    HandleFields f;
    if (!unpack(handle, kEventMagic, &f)) {
      return invalid_argument("host double: not an event handle of the host double");
    }
    return static_cast<Event>(new DoubleEvent{f.a, f.nonce});
  }

  void destroy_event(Event event) override { delete static_cast<DoubleEvent*>(event); }

  Status record(int, Event, Stream) override { return {}; }
  Status wait(int, Stream, Event) override { return {}; }
  Status copy(int, void* dst, const void* src, uint64_t bytes, Stream) override {
    std::memcpy(dst, src, bytes);
    return {};
  }
  Status zero(int, void* dst, uint64_t bytes, Stream) override {
    std::memset(dst, 0, bytes);
    return {};
  }
  Status synchronize(int, Stream) override { return {}; }

 private:
  Status check_ordinal(int ordinal) {
    auto uuids = device_uuids();
    if (ordinal < 0 || static_cast<size_t>(ordinal) >= uuids->size()) {
      return invalid_argument("host double: no device cuda:" + std::to_string(ordinal) + " (it has " +
                              std::to_string(uuids->size()) + ")");
    }
    return {};
  }

  std::mutex mu_;
  std::map<void*, Allocation> allocations_;
  std::map<void*, Mapping> imports_;
  std::atomic<uint64_t> next_event_{0};
};

}  // namespace

Api& host_double_api() {
  static HostDoubleApi* api = new HostDoubleApi;  // never destroyed: used until exit
  return *api;
}

}  // namespace tensoripc::device
