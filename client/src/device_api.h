// The CUDA calls a GPU pool makes, behind one small interface: allocate and
// export device memory, import it in another process, interprocess events,
// copies and stream ordering. Two implementations:
//
//   CUDA runtime  the real one (cuda_runtime_api.cc), built when the CUDA
//                 toolkit is found (TENSORIPC_CUDA), linked statically so the
//                 library needs no libcudart at run time;
//   host double   a test double on host shared memory (host_double_api.cc):
//                 "device memory" is a memfd that another process opens
//                 through /proc/<exporter>/fd, so it goes when its exporter
//                 dies, as CUDA IPC memory does. Its copies are memcpy and
//                 complete before they return, so its events carry no state.
//                 It lets brokering, handle caching and lifecycle ordering be
//                 tested across processes on a machine with no GPU.
//
// device_api() picks one per process: the double when TENSORIPC_CUDA_BACKEND
// is "host-double" (tests only; it is not CUDA), else the CUDA runtime if
// this build has it, else none (device_api_unavailable() says why).
//
// Implementations are thread-safe. Private to the client library.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "common/status.h"

namespace tensoripc::device {

using Stream = void*;  // cudaStream_t; nullptr: the legacy default stream
using Event = void*;   // cudaEvent_t

class Api {
 public:
  virtual ~Api() = default;
  // "CUDA runtime 13.0" or "host double": for messages.
  virtual std::string name() const = 0;

  // The devices this process sees, by ordinal: their 16-byte UUIDs.
  // UNAVAILABLE with CUDA's text when there is no driver or no device.
  virtual StatusOr<std::vector<std::string>> device_uuids() = 0;

  // One allocation of `bytes` on device `ordinal`; `label` names it where the
  // implementation can (the double's memfd). Freed by release().
  virtual StatusOr<void*> allocate(int ordinal, uint64_t bytes, const std::string& label) = 0;
  virtual void release(void* base) = 0;
  // The 64-byte IPC handle of an allocation's base (cudaIpcGetMemHandle).
  virtual StatusOr<std::string> export_memory(void* base) = 0;
  // Maps another process's allocation on `ordinal` (cudaIpcOpenMemHandle):
  // `bytes` is what the broker says it holds. Closed by close_memory().
  virtual StatusOr<void*> open_memory(const std::string& handle, int ordinal, uint64_t bytes) = 0;
  virtual void close_memory(void* base) = 0;

  // An interprocess event without timing on `ordinal`; destroy_event()
  // for events made here and those opened.
  virtual StatusOr<Event> create_event(int ordinal) = 0;
  virtual StatusOr<std::string> export_event(Event event) = 0;
  virtual StatusOr<Event> open_event(const std::string& handle, int ordinal) = 0;
  virtual void destroy_event(Event event) = 0;

  // Stream work, on device `ordinal`'s context. record: `event` completes
  // when the work queued on `stream` so far does. wait: work queued on
  // `stream` after this waits for the event's last record. copy: `bytes`
  // from `src` to `dst`, host or device either side (unified addressing).
// Queued work is complete after synchronize().
  virtual Status record(int ordinal, Event event, Stream stream) = 0;
  virtual Status wait(int ordinal, Stream stream, Event event) = 0;
  virtual Status copy(int ordinal, void* dst, const void* src, uint64_t bytes, Stream stream) = 0;
  // `bytes` of zeros at `dst` (host or device memory), queued on `stream`.
  virtual Status zero(int ordinal, void* dst, uint64_t bytes, Stream stream) = 0;
  virtual Status synchronize(int ordinal, Stream stream) = 0;
};

// The process's implementation (see above), or nullptr.
Api* device_api();
// Why device_api() is null: "this build has no CUDA support ...".
std::string device_api_unavailable();

// The implementations, for device_api() and tests.
Api& host_double_api();
#ifdef TENSORIPC_HAVE_CUDA
Api& cuda_runtime_api();
#endif

}  // namespace tensoripc::device
