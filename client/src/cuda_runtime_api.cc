// device::Api on the CUDA runtime (device_api.h). Built only when the CUDA
// toolkit was found; cudart is linked statically, so a machine without the
// toolkit can run the library, and one without a driver gets CUDA's own
// error text (cudaErrorInsufficientDriver) when it asks for a GPU pool.
#include <cuda_runtime_api.h>

#include <cstring>

#include "device_api.h"

namespace tensoripc::device {
namespace {

Status cuda_status(cudaError_t err, const char* what) {
  if (err == cudaSuccess) return {};
  // Clear the error so that later calls in this thread do not report it.
  (void)cudaGetLastError();
  const StatusCode code = err == cudaErrorMemoryAllocation ? StatusCode::kResourceExhausted
                          : err == cudaErrorInvalidValue || err == cudaErrorInvalidResourceHandle ||
                                  err == cudaErrorInvalidDevice
                              ? StatusCode::kInvalidArgument
                              : StatusCode::kUnavailable;
  return Status(code, std::string("CUDA: ") + what + " failed: " + cudaGetErrorName(err) + ": " +
                          cudaGetErrorString(err));
}

// Makes `ordinal` the thread's current device for one call, and puts the
// caller's back after it: the library must not move a user thread to
// another GPU behind its back.
class DeviceScope {
 public:
  explicit DeviceScope(int ordinal) {
    if (cudaGetDevice(&previous_) != cudaSuccess) previous_ = -1;
    status_ = previous_ == ordinal ? Status{} : cuda_status(cudaSetDevice(ordinal), "cudaSetDevice");
  }
  ~DeviceScope() {
    int now = -1;
    if (previous_ >= 0 && cudaGetDevice(&now) == cudaSuccess && now != previous_) {
      (void)cudaSetDevice(previous_);
    }
  }
  const Status& status() const { return status_; }

 private:
  int previous_ = -1;
  Status status_;
};

template <typename Handle>
std::string handle_bytes(const Handle& h) {
  static_assert(sizeof(Handle) == 64, "CUDA IPC handles are 64 bytes");
  return std::string(reinterpret_cast<const char*>(&h), sizeof h);
}

template <typename Handle>
Status handle_from(const std::string& bytes, Handle* h) {
  if (bytes.size() != sizeof(Handle)) {
    return invalid_argument("CUDA IPC handle of " + std::to_string(bytes.size()) +
                            " bytes; CUDA's are " + std::to_string(sizeof(Handle)));
  }
  std::memcpy(h, bytes.data(), sizeof(Handle));
  return {};
}

class CudaRuntimeApi final : public Api {
 public:
  std::string name() const override {
    int runtime = 0;
    (void)cudaRuntimeGetVersion(&runtime);
    return "CUDA runtime " + std::to_string(runtime / 1000) + "." +
           std::to_string(runtime % 1000 / 10);
  }

  StatusOr<std::vector<std::string>> device_uuids() override {
    int count = 0;
    // Any other answer than success means no usable GPU, whatever the count
    // says (without a driver it is left untouched).
    if (Status s = cuda_status(cudaGetDeviceCount(&count), "cudaGetDeviceCount"); !s.ok()) {
      return s;
    }
    std::vector<std::string> uuids;
    for (int i = 0; i < count; ++i) {
      cudaDeviceProp prop{};
      if (Status s = cuda_status(cudaGetDeviceProperties(&prop, i), "cudaGetDeviceProperties");
          !s.ok()) {
        return s;
      }
      uuids.emplace_back(reinterpret_cast<const char*>(prop.uuid.bytes), sizeof prop.uuid.bytes);
    }
    return uuids;
  }

  StatusOr<void*> allocate(int ordinal, uint64_t bytes, const std::string&) override {
    DeviceScope scope(ordinal);
    if (!scope.status().ok()) return scope.status();
    void* p = nullptr;
    if (Status s = cuda_status(cudaMalloc(&p, bytes), "cudaMalloc"); !s.ok()) return s;
    // Frames never written read as zeros, as in host pools.
    if (Status s = cuda_status(cudaMemset(p, 0, bytes), "cudaMemset"); !s.ok()) {
      (void)cudaFree(p);
      return s;
    }
    return p;
  }

  void release(void* base) override { (void)cudaFree(base); }

  StatusOr<std::string> export_memory(void* base) override {
    cudaIpcMemHandle_t h;
    if (Status s = cuda_status(cudaIpcGetMemHandle(&h, base), "cudaIpcGetMemHandle"); !s.ok()) {
      return s;
    }
    return handle_bytes(h);
  }

  StatusOr<void*> open_memory(const std::string& handle, int ordinal, uint64_t) override {
    cudaIpcMemHandle_t h;
    if (Status s = handle_from(handle, &h); !s.ok()) return s;
    DeviceScope scope(ordinal);
    if (!scope.status().ok()) return scope.status();
    void* p = nullptr;
    if (Status s = cuda_status(cudaIpcOpenMemHandle(&p, h, cudaIpcMemLazyEnablePeerAccess),
                               "cudaIpcOpenMemHandle");
        !s.ok()) {
      return s;
    }
    return p;
  }

  void close_memory(void* base) override { (void)cudaIpcCloseMemHandle(base); }

  StatusOr<Event> create_event(int ordinal) override {
    DeviceScope scope(ordinal);
    if (!scope.status().ok()) return scope.status();
    cudaEvent_t e = nullptr;
    if (Status s = cuda_status(
            cudaEventCreateWithFlags(&e, cudaEventInterprocess | cudaEventDisableTiming),
            "cudaEventCreateWithFlags(cudaEventInterprocess)");
        !s.ok()) {
      return s;
    }
    return static_cast<Event>(e);
  }

  StatusOr<std::string> export_event(Event event) override {
    cudaIpcEventHandle_t h;
    if (Status s = cuda_status(cudaIpcGetEventHandle(&h, static_cast<cudaEvent_t>(event)),
                               "cudaIpcGetEventHandle");
        !s.ok()) {
      return s;
    }
    return handle_bytes(h);
  }

  StatusOr<Event> open_event(const std::string& handle, int ordinal) override {
    cudaIpcEventHandle_t h;
    if (Status s = handle_from(handle, &h); !s.ok()) return s;
    DeviceScope scope(ordinal);
    if (!scope.status().ok()) return scope.status();
    cudaEvent_t e = nullptr;
    if (Status s = cuda_status(cudaIpcOpenEventHandle(&e, h), "cudaIpcOpenEventHandle"); !s.ok()) {
      return s;
    }
    return static_cast<Event>(e);
  }

  void destroy_event(Event event) override { (void)cudaEventDestroy(static_cast<cudaEvent_t>(event)); }

  Status record(int ordinal, Event event, Stream stream) override {
    DeviceScope scope(ordinal);
    if (!scope.status().ok()) return scope.status();
    return cuda_status(
        cudaEventRecord(static_cast<cudaEvent_t>(event), static_cast<cudaStream_t>(stream)),
        "cudaEventRecord");
  }

  Status wait(int ordinal, Stream stream, Event event) override {
    DeviceScope scope(ordinal);
    if (!scope.status().ok()) return scope.status();
    return cuda_status(cudaStreamWaitEvent(static_cast<cudaStream_t>(stream),
                                           static_cast<cudaEvent_t>(event), 0),
                       "cudaStreamWaitEvent");
  }

  Status copy(int ordinal, void* dst, const void* src, uint64_t bytes, Stream stream) override {
    DeviceScope scope(ordinal);
    if (!scope.status().ok()) return scope.status();
    return cuda_status(
        cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDefault, static_cast<cudaStream_t>(stream)),
        "cudaMemcpyAsync");
  }

  Status zero(int ordinal, void* dst, uint64_t bytes, Stream stream) override {
    DeviceScope scope(ordinal);
    if (!scope.status().ok()) return scope.status();
    // cudaMemsetAsync wants device memory; host memory is set here.
    cudaPointerAttributes attr{};
    if (cudaPointerGetAttributes(&attr, dst) != cudaSuccess || attr.type == cudaMemoryTypeHost ||
        attr.type == cudaMemoryTypeUnregistered) {
      (void)cudaGetLastError();
      if (Status s = synchronize(ordinal, stream); !s.ok()) return s;
      std::memset(dst, 0, bytes);
      return {};
    }
    return cuda_status(cudaMemsetAsync(dst, 0, bytes, static_cast<cudaStream_t>(stream)),
                       "cudaMemsetAsync");
  }

  Status synchronize(int ordinal, Stream stream) override {
    DeviceScope scope(ordinal);
    if (!scope.status().ok()) return scope.status();
    return cuda_status(cudaStreamSynchronize(static_cast<cudaStream_t>(stream)),
                       "cudaStreamSynchronize");
  }
};

}  // namespace

Api& cuda_runtime_api() {
  static CudaRuntimeApi* api = new CudaRuntimeApi;  // never destroyed: used until exit
  return *api;
}

}  // namespace tensoripc::device
