#include "values.h"

#include <cmath>
#include <complex>
#include <cstring>
#include <limits>

namespace tensoripc::cli {
namespace {

template <typename T>
T load(const void* data, size_t i) {
  T v;
  std::memcpy(&v, static_cast<const unsigned char*>(data) + i * sizeof(T), sizeof(T));
  return v;
}

float from_bits(uint32_t bits) {
  float f;
  std::memcpy(&f, &bits, sizeof f);
  return f;
}

// IEEE half precision, subnormals and specials included.
float half_to_float(uint16_t h) {
  const uint32_t sign = uint32_t{h & 0x8000u} << 16;
  const uint32_t exponent = (h >> 10) & 0x1f;
  const uint32_t mantissa = h & 0x3ff;
  if (exponent == 0) {
    const float magnitude = std::ldexp(static_cast<float>(mantissa), -24);
    return sign ? -magnitude : magnitude;
  }
  if (exponent == 0x1f) return from_bits(sign | 0x7f800000u | (mantissa << 13));
  return from_bits(sign | ((exponent + 112) << 23) | (mantissa << 13));
}

}  // namespace

double element_as_double(const void* data, DType dtype, size_t i) {
  switch (dtype) {
    case DType::kBool: return load<uint8_t>(data, i) != 0 ? 1.0 : 0.0;
    case DType::kInt8: return load<int8_t>(data, i);
    case DType::kInt16: return load<int16_t>(data, i);
    case DType::kInt32: return load<int32_t>(data, i);
    case DType::kInt64: return static_cast<double>(load<int64_t>(data, i));
    case DType::kUInt8: return load<uint8_t>(data, i);
    case DType::kUInt16: return load<uint16_t>(data, i);
    case DType::kUInt32: return load<uint32_t>(data, i);
    case DType::kUInt64: return static_cast<double>(load<uint64_t>(data, i));
    case DType::kFloat16: return half_to_float(load<uint16_t>(data, i));
    case DType::kBFloat16: return from_bits(uint32_t{load<uint16_t>(data, i)} << 16);
    case DType::kFloat32: return load<float>(data, i);
    case DType::kFloat64: return load<double>(data, i);
    case DType::kComplex64: return std::abs(load<std::complex<float>>(data, i));
    case DType::kComplex128: return std::abs(load<std::complex<double>>(data, i));
  }
  return std::numeric_limits<double>::quiet_NaN();
}

ValueStats value_stats(const TensorView& tensor) {
  ValueStats s;
  s.count = tensor.numel();
  double sum = 0;
  size_t finite = 0;
  s.min = std::numeric_limits<double>::infinity();
  s.max = -std::numeric_limits<double>::infinity();
  for (size_t i = 0; i < s.count; ++i) {
    const double v = element_as_double(tensor.data(), tensor.dtype(), i);
    if (!std::isfinite(v)) {
      ++s.non_finite;
      continue;
    }
    ++finite;
    sum += v;
    if (v < s.min) s.min = v;
    if (v > s.max) s.max = v;
  }
  if (finite == 0) {
    s.min = s.max = s.mean = std::numeric_limits<double>::quiet_NaN();
  } else {
    s.mean = sum / static_cast<double>(finite);
  }
  return s;
}

}  // namespace tensoripc::cli
