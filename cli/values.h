// A frame's elements as numbers: what `tensor-ipc echo` summarises and
// `snapshot` scales into an image. Every dtype the library knows, read from
// host memory.
//
// Stateless; thread-safe.
#pragma once

#include <cstddef>
#include <cstdint>

#include "tensoripc/tensor.h"

namespace tensoripc::cli {

// Element `i` of a host buffer of `dtype`, as a double (bool 0/1; a complex
// number's magnitude; float16 and bfloat16 widened exactly).
double element_as_double(const void* data, DType dtype, size_t i);

struct ValueStats {
  size_t count = 0;  // elements
  double min = 0;    // over the finite elements (NaN and infinities left out)
  double max = 0;
  double mean = 0;
  size_t non_finite = 0;  // NaN and infinities
};

// Min, max and mean of a host tensor's elements.
ValueStats value_stats(const TensorView& tensor);

}  // namespace tensoripc::cli
