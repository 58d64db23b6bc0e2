// tensoripc::DType: the element types a pool can hold, with numpy's names
// (the names on the wire), element sizes and DLPack codes. Header-only; part
// of the public API, and the one table daemon, client and bindings share.
#pragma once

#include <array>
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
  std::string_view name;  // numpy's name
  size_t itemsize;        // bytes per element
  uint8_t dl_code;        // DLDataTypeCode
  uint8_t dl_bits;
};

namespace detail {
// DLPack type codes (dlpack.h): kDLInt 0, kDLUInt 1, kDLFloat 2, kDLBfloat 4,
// kDLComplex 5, kDLBool 6 (DLPack 0.8; numpy and torch use it).
inline constexpr std::array<DTypeInfo, 15> kDTypes = {{
    {DType::kBool, "bool", 1, 6, 8},
    {DType::kInt8, "int8", 1, 0, 8},
    {DType::kInt16, "int16", 2, 0, 16},
    {DType::kInt32, "int32", 4, 0, 32},
    {DType::kInt64, "int64", 8, 0, 64},
    {DType::kUInt8, "uint8", 1, 1, 8},
    {DType::kUInt16, "uint16", 2, 1, 16},
    {DType::kUInt32, "uint32", 4, 1, 32},
    {DType::kUInt64, "uint64", 8, 1, 64},
    {DType::kFloat16, "float16", 2, 2, 16},
    {DType::kBFloat16, "bfloat16", 2, 4, 16},
    {DType::kFloat32, "float32", 4, 2, 32},
    {DType::kFloat64, "float64", 8, 2, 64},
    {DType::kComplex64, "complex64", 8, 5, 64},
    {DType::kComplex128, "complex128", 16, 5, 128},
}};
static_assert(static_cast<size_t>(DType::kComplex128) + 1 == kDTypes.size(), "table order");

struct DTypeAlias {
  std::string_view spelling;
  DType dtype;
};
inline constexpr std::array<DTypeAlias, 32> kDTypeAliases = {{
    {"bool_", DType::kBool},
    {"?", DType::kBool},
    {"byte", DType::kInt8},
    {"i1", DType::kInt8},
    {"short", DType::kInt16},
    {"i2", DType::kInt16},
    {"int", DType::kInt32},
    {"i4", DType::kInt32},
    {"long", DType::kInt64},
    {"i8", DType::kInt64},
    {"u1", DType::kUInt8},
    {"ubyte", DType::kUInt8},
    {"u2", DType::kUInt16},
    {"u4", DType::kUInt32},
    {"u8", DType::kUInt64},
    {"half", DType::kFloat16},
    {"f2", DType::kFloat16},
    {"e", DType::kFloat16},
    {"float", DType::kFloat32},
    {"f4", DType::kFloat32},
    {"f", DType::kFloat32},
    {"single", DType::kFloat32},
    {"double", DType::kFloat64},
    {"f8", DType::kFloat64},
    {"d", DType::kFloat64},
    {"cfloat", DType::kComplex64},
    {"c8", DType::kComplex64},
    {"complex", DType::kComplex64},
    {"cdouble", DType::kComplex128},
    {"c16", DType::kComplex128},
    {"B", DType::kUInt8},
    {"b", DType::kInt8},
}};
}  // namespace detail

inline constexpr const DTypeInfo& dtype_info(DType dtype) {
  return detail::kDTypes[static_cast<size_t>(dtype)];
}
inline constexpr std::string_view dtype_name(DType dtype) { return dtype_info(dtype).name; }
inline constexpr size_t dtype_itemsize(DType dtype) { return dtype_info(dtype).itemsize; }

// Exactly numpy's name ("float32", "uint8", "bfloat16", ...); nullopt otherwise.
inline std::optional<DType> parse_dtype(std::string_view name) {
  for (const auto& info : detail::kDTypes) {
    if (info.name == name) return info.dtype;
  }
  return std::nullopt;
}

// Also the common spellings: "torch.float32", "np.float32", "float", "<f4",
// "half", ... For bindings and tools; the wire takes only exact names.
inline std::optional<DType> parse_dtype_lenient(std::string_view name) {
  for (std::string_view prefix : {"torch.", "numpy.", "np."}) {
    if (name.substr(0, prefix.size()) == prefix) name.remove_prefix(prefix.size());
  }
  if (!name.empty() && (name[0] == '<' || name[0] == '|' || name[0] == '=')) name.remove_prefix(1);
  if (auto exact = parse_dtype(name)) return exact;
  for (const auto& alias : detail::kDTypeAliases) {
    if (alias.spelling == name) return alias.dtype;
  }
  return std::nullopt;
}

// "bool, int8, ..., complex128", for error messages.
inline std::string dtype_names_joined() {
  std::string out;
  for (const auto& info : detail::kDTypes) {
    if (!out.empty()) out += ", ";
    out += info.name;
  }
  return out;
}

// The DType of a DLPack (code, bits, lanes) triple; nullopt if unsupported.
inline std::optional<DType> dtype_from_dlpack(uint8_t code, uint8_t bits, uint16_t lanes) {
  if (lanes != 1) return std::nullopt;
  for (const auto& info : detail::kDTypes) {
    if (info.dl_code == code && info.dl_bits == bits) return info.dtype;
  }
  return std::nullopt;
}

}  // namespace tensoripc
