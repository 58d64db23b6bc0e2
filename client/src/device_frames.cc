#include "device_frames.h"

#include <map>
#include <mutex>

#include "pool/model.h"  // frame_bytes, device_of
#include "tensoripc/error.h"

namespace tensoripc {
namespace {

// Every DeviceFrames alive in this process, by what identifies its memory:
// "own:" + handle for allocations made here, "imp:" + handle + generation
// for imports. Entries expire with their DeviceFrames.
struct Cache {
  std::mutex mu;
  std::map<std::string, std::weak_ptr<DeviceFrames>> frames;
};

Cache& cache() {
  static Cache* c = new Cache;  // never destroyed: frames may outlive static destruction
  return *c;
}

std::string own_key(const std::string& handle) { return "own:" + handle; }

std::string import_key(const std::string& handle, uint64_t generation) {
  return "imp:" + handle + std::string(reinterpret_cast<const char*>(&generation), sizeof generation);
}

uint64_t round_up(uint64_t n, uint64_t to) { return (n + to - 1) / to * to; }

std::string describe_devices(const std::vector<std::string>& uuids) {
  if (uuids.empty()) return "no GPU";
  std::string out;
  for (size_t i = 0; i < uuids.size(); ++i) {
    out += (i ? ", cuda:" : "cuda:") + std::to_string(i) + " (UUID " + to_hex(uuids[i]) + ")";
  }
  return out;
}

Status with_pool(const std::string& pool, const Status& s) {
  return Status(s.code(), "pool '" + pool + "': " + s.message());
}

}  // namespace

void throw_device_status(const Status& s) {
  if (s.code() == StatusCode::kInvalidArgument) throw InvalidArgumentError(s.message());
  if (s.code() == StatusCode::kResourceExhausted) throw ResourceExhaustedError(s.message());
  throw Error(s.message());
}

Status check_device_pools(const PoolMetadata& md) {
  device::Api* api = device::device_api();
  if (api == nullptr) {
    return invalid_argument("pool '" + md.name + "' is on " + md.device + ": " +
                            device::device_api_unavailable());
  }
  auto uuids = api->device_uuids();
  if (!uuids.ok()) {
    return Status(uuids.status().code(), "pool '" + md.name + "' is on " + md.device +
                                             ", and no GPU is usable here: " +
                                             uuids.status().message());
  }
  return {};
}

StatusOr<std::shared_ptr<DeviceFrames>> DeviceFrames::allocate(device::Api& api,
                                                                const PoolMetadata& md) {
  const Device device = device_of(md);
  auto uuids = api.device_uuids();
  if (!uuids.ok()) return with_pool(md.name, uuids.status());
  if (device.ordinal < 0 || static_cast<size_t>(device.ordinal) >= uuids->size()) {
    return invalid_argument("pool '" + md.name + "' is on " + md.device + "; this process sees " +
                            describe_devices(*uuids));
  }
  std::shared_ptr<DeviceFrames> f(new DeviceFrames);
  f->api_ = &api;
  f->pool_ = md.name;
  f->owned_ = true;
  f->ordinal_ = device.ordinal;
  f->frame_size_ = frame_bytes(md);
  CudaMemory& m = f->memory_;
  m.sharing = CudaMemory::Sharing::kLegacyIpc;
  m.device_ordinal = device.ordinal;
  m.device_uuid = (*uuids)[device.ordinal];
  m.data_offset = 0;
  m.slot_stride = round_up(f->frame_size_, kCudaFrameAlign);
  m.allocation_size = round_up(m.slot_stride * md.history_len, kCudaAllocationGranularity);
  auto base = api.allocate(device.ordinal, m.allocation_size, md.name);
  if (!base.ok()) return with_pool(md.name, base.status());
  f->base_ = static_cast<char*>(*base);
  auto handle = api.export_memory(f->base_);
  if (!handle.ok()) return with_pool(md.name, handle.status());
  m.memory_handle = *handle;
  for (uint32_t i = 0; i < md.history_len; ++i) {
    auto event = api.create_event(device.ordinal);
    if (!event.ok()) return with_pool(md.name, event.status());
    f->events_.push_back(*event);
    auto event_handle = api.export_event(*event);
    if (!event_handle.ok()) return with_pool(md.name, event_handle.status());
    m.event_handles.push_back(*event_handle);
  }
  f->cache_key_ = own_key(m.memory_handle);
  Cache& c = cache();
  std::lock_guard<std::mutex> lock(c.mu);
  c.frames[f->cache_key_] = f;
  return f;
}

StatusOr<std::shared_ptr<DeviceFrames>> DeviceFrames::import(device::Api& api,
                                                              const PoolMetadata& md,
                                                              const CudaMemory& cuda,
                                                              uint64_t generation) {
  if (cuda.sharing != CudaMemory::Sharing::kLegacyIpc) {
    return Status(StatusCode::kUnimplemented,
                  "pool '" + md.name + "': its device memory is shared in a way this build of "
                  "libtensoripc-client cannot import (only CUDA IPC handles)");
  }
  // What the daemon checked (check_cuda_memory); a client trusts no size
  // it has not checked itself.
  if (Status s = check_cuda_memory(md, cuda); !s.ok()) return s;
  Cache& c = cache();
  std::lock_guard<std::mutex> lock(c.mu);
  for (const std::string& key : {own_key(cuda.memory_handle), import_key(cuda.memory_handle, generation)}) {
    auto it = c.frames.find(key);
    if (it == c.frames.end()) continue;
    if (std::shared_ptr<DeviceFrames> live = it->second.lock()) return live;
  }
  auto uuids = api.device_uuids();
  if (!uuids.ok()) return with_pool(md.name, uuids.status());
  int local = -1;
  for (size_t i = 0; i < uuids->size(); ++i) {
    if ((*uuids)[i] == cuda.device_uuid) local = static_cast<int>(i);
  }
  if (local < 0) {
    return failed_precondition(
        "pool '" + md.name + "' is on the GPU with UUID " + to_hex(cuda.device_uuid) + " (" +
        md.device + " in its producer's process), which this process cannot reach: it sees " +
        describe_devices(*uuids) + " (check CUDA_VISIBLE_DEVICES and the container's devices)");
  }
  std::shared_ptr<DeviceFrames> f(new DeviceFrames);
  f->api_ = &api;
  f->pool_ = md.name;
  f->memory_ = cuda;
  f->ordinal_ = local;
  f->frame_size_ = frame_bytes(md);
  auto base = api.open_memory(cuda.memory_handle, local, cuda.allocation_size);
  if (!base.ok()) return with_pool(md.name, base.status());
  f->base_ = static_cast<char*>(*base);
  for (const std::string& handle : cuda.event_handles) {
    auto event = api.open_event(handle, local);
    if (!event.ok()) return with_pool(md.name, event.status());
    f->events_.push_back(*event);
  }
  f->cache_key_ = import_key(cuda.memory_handle, generation);
  c.frames[f->cache_key_] = f;
  return f;
}

DeviceFrames::~DeviceFrames() {
  if (!cache_key_.empty()) {
    Cache& c = cache();
    std::lock_guard<std::mutex> lock(c.mu);
    auto it = c.frames.find(cache_key_);
    if (it != c.frames.end() && it->second.expired()) c.frames.erase(it);
  }
  for (device::Event e : events_) api_->destroy_event(e);
  if (base_ != nullptr) {
    if (owned_) {
      api_->release(base_);
    } else {
      api_->close_memory(base_);
    }
  }
}

void DeviceFrames::copy_out(uint64_t slot, void* dst, device::Stream stream) const {
  Status s = api_->wait(ordinal_, stream, events_[slot]);
  if (s.ok()) s = api_->copy(ordinal_, dst, frame(slot), frame_size_, stream);
  if (s.ok()) s = api_->synchronize(ordinal_, stream);
  if (!s.ok()) throw_device_status(with_pool(pool_, s));
}

Status DeviceFrames::copy_in(uint64_t slot, const void* src, device::Stream stream) const {
  Status s = api_->copy(ordinal_, frame(slot), src, frame_size_, stream);
  if (s.ok()) s = api_->record(ordinal_, events_[slot], stream);
  return s.ok() ? s : with_pool(pool_, s);
}

Status DeviceFrames::record(uint64_t slot, device::Stream stream) const {
  Status s = api_->record(ordinal_, events_[slot], stream);
  return s.ok() ? s : with_pool(pool_, s);
}

void DeviceFrames::zero(void* dst, uint64_t bytes, device::Stream stream) const {
  Status s = api_->zero(ordinal_, dst, bytes, stream);
  if (s.ok()) s = api_->synchronize(ordinal_, stream);
  if (!s.ok()) throw_device_status(with_pool(pool_, s));
}

}  // namespace tensoripc
