#include "common/dtype.h"

#include <dlpack/dlpack.h>

#include <array>

namespace tensoripc {
namespace {

// kDLBool arrived in DLPack 0.8; Debian's dlpack.h is 0.6. numpy and torch use 6.
constexpr uint8_t kDLBoolCode = 6;

constexpr std::array<DTypeInfo, 15> kTable = {{
    {DType::kBool, "bool", 1, kDLBoolCode, 8},
    {DType::kInt8, "int8", 1, kDLInt, 8},
    {DType::kInt16, "int16", 2, kDLInt, 16},
    {DType::kInt32, "int32", 4, kDLInt, 32},
    {DType::kInt64, "int64", 8, kDLInt, 64},
    {DType::kUInt8, "uint8", 1, kDLUInt, 8},
    {DType::kUInt16, "uint16", 2, kDLUInt, 16},
    {DType::kUInt32, "uint32", 4, kDLUInt, 32},
    {DType::kUInt64, "uint64", 8, kDLUInt, 64},
    {DType::kFloat16, "float16", 2, kDLFloat, 16},
    {DType::kBFloat16, "bfloat16", 2, kDLBfloat, 16},
    {DType::kFloat32, "float32", 4, kDLFloat, 32},
    {DType::kFloat64, "float64", 8, kDLFloat, 64},
    {DType::kComplex64, "complex64", 8, kDLComplex, 64},
    {DType::kComplex128, "complex128", 16, kDLComplex, 128},
}};

struct Alias {
  std::string_view spelling;
  DType dtype;
};

constexpr std::array<Alias, 32> kAliases = {{
    {"bool_", DType::kBool},         {"?", DType::kBool},
    {"byte", DType::kInt8},          {"i1", DType::kInt8},
    {"short", DType::kInt16},        {"i2", DType::kInt16},
    {"int", DType::kInt32},          {"i4", DType::kInt32},
    {"long", DType::kInt64},         {"i8", DType::kInt64},
    {"u1", DType::kUInt8},           {"ubyte", DType::kUInt8},
    {"u2", DType::kUInt16},          {"u4", DType::kUInt32},
    {"u8", DType::kUInt64},          {"half", DType::kFloat16},
    {"f2", DType::kFloat16},         {"e", DType::kFloat16},
    {"float", DType::kFloat32},      {"f4", DType::kFloat32},
    {"f", DType::kFloat32},          {"single", DType::kFloat32},
    {"double", DType::kFloat64},     {"f8", DType::kFloat64},
    {"d", DType::kFloat64},          {"cfloat", DType::kComplex64},
    {"c8", DType::kComplex64},       {"complex", DType::kComplex64},
    {"cdouble", DType::kComplex128}, {"c16", DType::kComplex128},
    {"B", DType::kUInt8},            {"b", DType::kInt8},
}};

}  // namespace

static_assert(static_cast<size_t>(DType::kComplex128) + 1 == kTable.size(), "table order");

const DTypeInfo* all_dtypes(size_t* count) {
  *count = kTable.size();
  return kTable.data();
}

const DTypeInfo& dtype_info(DType dtype) { return kTable[static_cast<size_t>(dtype)]; }

std::optional<DType> parse_dtype(std::string_view name) {
  for (const auto& info : kTable) {
    if (info.name == name) return info.dtype;
  }
  return std::nullopt;
}

std::optional<DType> parse_dtype_lenient(std::string_view name) {
  for (std::string_view prefix : {"torch.", "numpy.", "np."}) {
    if (name.substr(0, prefix.size()) == prefix) name.remove_prefix(prefix.size());
  }
  // numpy's array-protocol strings carry a byte order: "<f4", "|u1", "=i8".
  if (!name.empty() && (name[0] == '<' || name[0] == '|' || name[0] == '=')) name.remove_prefix(1);
  if (auto exact = parse_dtype(name)) return exact;
  for (const auto& alias : kAliases) {
    if (alias.spelling == name) return alias.dtype;
  }
  return std::nullopt;
}

std::string dtype_names_joined() {
  std::string out;
  for (const auto& info : kTable) {
    if (!out.empty()) out += ", ";
    out += info.name;
  }
  return out;
}

std::optional<DType> dtype_from_dlpack(uint8_t code, uint8_t bits, uint16_t lanes) {
  if (lanes != 1) return std::nullopt;
  for (const auto& info : kTable) {
    if (info.dl_code == code && info.dl_bits == bits) return info.dtype;
  }
  return std::nullopt;
}

}  // namespace tensoripc
