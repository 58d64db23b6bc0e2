// A claim of a GPU pool with the device memory a producer would export
// through legacy CUDA IPC, made of stand-in bytes: what the daemon checks,
// stores and hands out needs no GPU. Shared by the registry's unit tests, the
// daemon's integration tests and tipc_broker_helper.
#pragma once

#include <string>

#include "tensoripc/v1/broker.pb.h"

namespace tensoripc::testing {

// [2, 128] float32 x 2 on cuda:0: two 1 KiB frames in one 2 MiB block, a
// memory handle of 64 `handle` bytes, events 0x21.. and 0x22.., UUID 0x31...
inline v1::ClaimPool gpu_claim_of(const std::string& name, char handle = '\x11') {
  v1::ClaimPool c;
  v1::PoolMetadata* md = c.mutable_metadata();
  md->set_name(name);
  md->add_shape(2);
  md->add_shape(128);
  md->set_dtype_str("float32");
  md->set_history_len(2);
  md->set_device("cuda:0");
  md->set_backend_type("torch_cuda");
  v1::CudaMemory* cuda = c.mutable_cuda();
  cuda->set_sharing(v1::CudaMemory::CUDA_SHARING_LEGACY_IPC);
  cuda->set_memory_handle(std::string(64, handle));
  cuda->set_allocation_size(2 << 20);
  cuda->set_data_offset(0);
  cuda->set_slot_stride(1024);
  cuda->add_event_handles(std::string(64, '\x21'));
  cuda->add_event_handles(std::string(64, '\x22'));
  cuda->set_device_ordinal(0);
  cuda->set_device_uuid(std::string(16, '\x31'));
  return c;
}

}  // namespace tensoripc::testing
