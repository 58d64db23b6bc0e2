#pragma once
// Tensors <-> ROS messages: sensor_msgs/Image encodings and std_msgs
// MultiArray layouts. Plain C++ (no DDS), so every rule here is unit-tested
// without a network. Every function is pure and thread-safe.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "tensoripc/dtype.h"
#include "tensoripc/tensor.h"

namespace tensoripc::ros2 {

// --- sensor_msgs/Image

// What a ROS image encoding means for the pixels: the element dtype and the
// channels per pixel. Named encodings (rgb8, bgr8, rgba8, bgra8, rgb16, bgr16,
// rgba16, bgra16, mono8, mono16) and OpenCV's <bits><U|S|F>C<n> (8UC3,
// 16SC1, 32FC1, 64FC1, ...), as sensor_msgs/image_encodings.hpp defines them.
struct ImageEncoding {
  std::string name;
  DType dtype = DType::kUInt8;
  int channels = 1;
};
// nullopt for an encoding with no plain pixel layout (bayer_*, yuv422, ...)
// or one that is not an encoding at all.
std::optional<ImageEncoding> parse_image_encoding(std::string_view name);

// The Image header fields for a tensor: shape [h, w] (one channel) or
// [h, w, c]. Rows are packed: step = w * c * itemsize; is_bigendian is this
// host's order (0 on x86 and ARM).
struct ImageGeometry {
  uint32_t height = 0;
  uint32_t width = 0;
  uint32_t step = 0;
  uint8_t is_bigendian = 0;
};
// Throws InvalidArgumentError when the shape or dtype do not fit the
// encoding (the message names both), or an encoding it cannot parse.
ImageGeometry image_geometry(const Shape& shape, DType dtype, std::string_view encoding);

// The encoding a tensor would most plausibly be sent with: uint8 [h, w] ->
// mono8, [h, w, 3] -> rgb8, [h, w, 4] -> rgba8; uint16 [h, w] -> mono16;
// otherwise <bits><U|S|F>C<c> (float32 [h, w] -> 32FC1). Throws
// InvalidArgumentError for a rank other than 2 or 3, more than 4 channels,
// or a dtype OpenCV has no code for.
std::string default_image_encoding(const Shape& shape, DType dtype);

// A received Image as a tensor: its shape ([h, w] or [h, w, c]) and dtype.
struct TensorLayout {
  std::vector<int64_t> shape;
  DType dtype = DType::kUInt8;
};
// Throws InvalidArgumentError when the image cannot be read as a packed
// tensor: an unknown encoding, rows with padding (step > w * c * itemsize),
// step too small, multi-byte pixels in the other byte order, or data_size
// (the length of the data field) != step * height.
TensorLayout image_tensor_layout(uint32_t height, uint32_t width, std::string_view encoding,
                                 uint8_t is_bigendian, uint32_t step, size_t data_size);

// --- std_msgs/MultiArrayLayout

struct ArrayDimension {
  std::string label;
  uint32_t size = 0;
  uint32_t stride = 0;  // elements spanned by one step in this dimension and all after it
};
// The layout of a C-contiguous tensor, as the std_msgs documentation defines
// it: dim[i].size = shape[i], dim[i].stride = shape[i] * ... * shape[n-1].
// Labels default to "dim0", "dim1", ...; given labels must match the rank.
// Throws InvalidArgumentError for a dimension past 2^32 - 1.
std::vector<ArrayDimension> multi_array_layout(const Shape& shape,
                                               const std::vector<std::string>& labels = {});
// The shape of a received MultiArray. Throws InvalidArgumentError unless the
// layout describes data_size packed elements from offset 0 (the strides are
// those multi_array_layout writes). An empty layout means a 1-D array of
// data_size elements.
std::vector<int64_t> multi_array_shape(const std::vector<ArrayDimension>& dims,
                                       uint32_t data_offset, size_t data_size);

}  // namespace tensoripc::ros2
