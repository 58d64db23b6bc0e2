// The dtype table: numpy's names, element sizes and DLPack codes, in one place
// for daemon, client and bindings.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace tensoripc {

enum class DType : uint8_t {
  kBool,
  kInt8,
  kInt16,
  kInt32,
  kInt64,
  kUInt8,
  kUInt16,
  kUInt32,
  kUInt64,
  kFloat16,
  kBFloat16,
  kFloat32,
  kFloat64,
  kComplex64,
  kComplex128,
};

struct DTypeInfo {
  DType dtype;
  std::string_view name;  // numpy's name, the one on the wire.
  size_t itemsize;        // bytes per element
  uint8_t dl_code;        // DLDataTypeCode
  uint8_t dl_bits;
};

// Every dtype, in enum order.
const DTypeInfo* all_dtypes(size_t* count);
const DTypeInfo& dtype_info(DType dtype);
inline std::string_view dtype_name(DType dtype) { return dtype_info(dtype).name; }
inline size_t dtype_itemsize(DType dtype) { return dtype_info(dtype).itemsize; }

// Exactly numpy's name ("float32", "uint8", "bfloat16", ...); nullopt otherwise.
std::optional<DType> parse_dtype(std::string_view name);

// numpy's names also in their common spellings: "torch.float32", "float",
// "<f4", "half", ... Used by bindings and tools; the wire takes only exact names.
std::optional<DType> parse_dtype_lenient(std::string_view name);

// "bool, int8, ..., complex128" for error messages.
std::string dtype_names_joined();

// The DType for a DLPack (code, bits, lanes == 1) triple.
std::optional<DType> dtype_from_dlpack(uint8_t code, uint8_t bits, uint16_t lanes);

}  // namespace tensoripc
