// What the daemon checks of a GPU pool's exported device memory before it
// stores and hands it out (pool/cuda_memory.h): every field's form, against
// the pool's metadata. No GPU needed: these are bytes and numbers.
#include "pool/cuda_memory.h"

#include <gtest/gtest.h>

#include <functional>
#include <string>
#include <vector>

#include "pool/model.h"

namespace tensoripc {
namespace {

// A pool of three 640x480x3 float32 frames on cuda:1.
PoolMetadata gpu_pool() {
  PoolMetadata md;
  md.name = "cam";
  md.shape = {480, 640, 3};
  md.dtype = DType::kFloat32;
  md.history_len = 3;
  md.device = "cuda:1";
  md.backend_type = "torch_cuda";
  const Status s = complete_metadata(&md, PoolLimits{});
  EXPECT_TRUE(s.ok()) << s.message();
  return md;
}

std::string bytes(size_t n, char fill) { return std::string(n, fill); }

// What a producer on cuda:1 would export for it: one 2 MiB-rounded block.
CudaMemory valid() {
  CudaMemory c;
  c.sharing = CudaMemory::Sharing::kLegacyIpc;
  c.memory_handle = bytes(64, '\x11');
  c.data_offset = 0;
  c.slot_stride = 3686400;  // a frame, a multiple of 256
  c.allocation_size = 6ULL << 21;  // 11,059,200 rounded up to 2 MiB
  for (char e : {'\x21', '\x22', '\x23'}) c.event_handles.push_back(bytes(64, e));
  c.device_ordinal = 1;
  c.device_uuid = bytes(16, '\x31');
  return c;
}

TEST(CudaMemory, AValidExportPasses) {
  EXPECT_TRUE(check_cuda_memory(gpu_pool(), valid()).ok())
      << check_cuda_memory(gpu_pool(), valid()).message();
  CudaMemory offset = valid();
  offset.data_offset = 256;  // still within the same six 2 MiB units
  EXPECT_TRUE(check_cuda_memory(gpu_pool(), offset).ok());
}

TEST(CudaMemory, EveryMalformedFieldIsRefusedByName) {
  struct Case {
    const char* what;
    std::function<void(CudaMemory&)> spoil;
    const char* field;  // in the message
  };
  const std::vector<Case> cases = {
      {"short handle", [](CudaMemory& c) { c.memory_handle.pop_back(); }, "memory_handle"},
      {"long handle", [](CudaMemory& c) { c.memory_handle += 'x'; }, "memory_handle"},
      {"unset handle", [](CudaMemory& c) { c.memory_handle = bytes(64, 0); }, "all zeros"},
      {"other device", [](CudaMemory& c) { c.device_ordinal = 0; }, "device_ordinal"},
      {"short uuid", [](CudaMemory& c) { c.device_uuid = bytes(15, 1); }, "device_uuid"},
      {"unset uuid", [](CudaMemory& c) { c.device_uuid = bytes(16, 0); }, "device_uuid"},
      {"an event short", [](CudaMemory& c) { c.event_handles.pop_back(); }, "one per slot"},
      {"an event more", [](CudaMemory& c) { c.event_handles.push_back(bytes(64, 9)); },
       "one per slot"},
      {"a bad event", [](CudaMemory& c) { c.event_handles[1] = bytes(63, 9); },
       "event_handles[1]"},
      {"a repeated event", [](CudaMemory& c) { c.event_handles[2] = c.event_handles[0]; },
       "repeats"},
      {"stride below a frame", [](CudaMemory& c) { c.slot_stride = 3686400 - 256; },
       "slot_stride"},
      {"stride unaligned", [](CudaMemory& c) { c.slot_stride = 3686400 + 8; }, "slot_stride"},
      {"offset unaligned", [](CudaMemory& c) { c.data_offset = 100; }, "data_offset"},
      {"block too small", [](CudaMemory& c) { c.allocation_size = 11059200; }, "allocation_size"},
      {"block too large", [](CudaMemory& c) { c.allocation_size += 2 << 20; }, "allocation_size"},
      {"overflow", [](CudaMemory& c) { c.slot_stride = UINT64_MAX / 2 & ~uint64_t{255}; },
       "overflows"},
  };
  for (const Case& k : cases) {
    CudaMemory c = valid();
    k.spoil(c);
    const Status s = check_cuda_memory(gpu_pool(), c);
    EXPECT_EQ(s.code(), StatusCode::kInvalidArgument) << k.what;
    EXPECT_NE(s.message().find(k.field), std::string::npos) << k.what << ": " << s.message();
    EXPECT_NE(s.message().find("pool 'cam'"), std::string::npos) << k.what;
  }
}

TEST(CudaMemory, PresentExactlyForGpuPools) {
  PoolMetadata host = gpu_pool();
  host.device = "cpu";
  host.backend_type = "numpy";
  ASSERT_TRUE(complete_metadata(&host, PoolLimits{}).ok());
  EXPECT_TRUE(check_cuda_memory(host, CudaMemory{}).ok());
  const Status extra = check_cuda_memory(host, valid());
  EXPECT_EQ(extra.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(extra.message().find("host"), std::string::npos) << extra.message();
  const Status missing = check_cuda_memory(gpu_pool(), CudaMemory{});
  EXPECT_EQ(missing.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(missing.message().find("cuda:1"), std::string::npos) << missing.message();
  CudaMemory vmm = valid();
  vmm.sharing = CudaMemory::Sharing::kVmmFd;
  EXPECT_EQ(check_cuda_memory(gpu_pool(), vmm).code(), StatusCode::kUnimplemented);
}

TEST(CudaMemory, JsonCarriesTheFieldsInHex) {
  const std::string json = cuda_memory_json(valid());
  EXPECT_NE(json.find("\"sharing\": \"legacy_ipc\""), std::string::npos) << json;
  EXPECT_NE(json.find("\"device\": 1"), std::string::npos) << json;
  EXPECT_NE(json.find("\"memory_handle\": \"" + to_hex(bytes(64, '\x11')) + "\""),
            std::string::npos)
      << json;
  EXPECT_NE(json.find("\"device_uuid\": \"31313131313131313131313131313131\""), std::string::npos)
      << json;
  EXPECT_NE(json.find("\"allocation_size\": 12582912"), std::string::npos) << json;
  EXPECT_EQ(to_hex(std::string("\x00\xff\x10", 3)), "00ff10");
}

}  // namespace
}  // namespace tensoripc
