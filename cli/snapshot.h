// Files of one frame: .npy (numpy's format, any pool) and .png (image-shaped
// pools), for `tensor-ipc snapshot`.
//
// Stateless; thread-safe. Errors are tensoripc::Error with the file and why.
#pragma once

#include <optional>
#include <string>
#include <utility>

#include "tensoripc/tensor.h"

namespace tensoripc::cli {

// numpy's .npy, version 1.0, little-endian, C order: np.load gives the frame
// back with its shape and dtype. bfloat16, which numpy lacks, is widened to
// float32.
void write_npy(const std::string& path, const TensorView& frame);

// Why a frame is not an image, or nullopt when it is: H x W, or H x W x C with
// C 1 (grey), 3 (RGB) or 4 (RGBA); a real dtype (not complex).
std::optional<std::string> not_an_image(const TensorView& frame);

// The frame as a PNG (libpng). uint8 as it is; uint16 as a 16-bit PNG; bool as
// 0/255; every other dtype scaled linearly from `range` onto 0..255 (values
// outside clamped, NaN as 0). The default range is the frame's 0.1st..99.9th
// percentile, or 0..1 when that lies within 0..1. InvalidArgumentError when
// not_an_image().
void write_png(const std::string& path, const TensorView& frame,
               std::optional<std::pair<double, double>> range = std::nullopt);

}  // namespace tensoripc::cli
