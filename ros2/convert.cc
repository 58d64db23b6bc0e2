#include "ros2/convert.h"

#include <array>
#include <cstring>
#include <limits>

#include "tensoripc/error.h"

namespace tensoripc::ros2 {
namespace {

struct NamedEncoding {
  std::string_view name;
  DType dtype;
  int channels;
};

// sensor_msgs/image_encodings.hpp's named encodings with a plain pixel layout.
constexpr std::array<NamedEncoding, 10> kNamed = {{
    {"rgb8", DType::kUInt8, 3},
    {"bgr8", DType::kUInt8, 3},
    {"rgba8", DType::kUInt8, 4},
    {"bgra8", DType::kUInt8, 4},
    {"mono8", DType::kUInt8, 1},
    {"rgb16", DType::kUInt16, 3},
    {"bgr16", DType::kUInt16, 3},
    {"rgba16", DType::kUInt16, 4},
    {"bgra16", DType::kUInt16, 4},
    {"mono16", DType::kUInt16, 1},
}};

// OpenCV's depth codes: <bits><U|S|F>.
struct CvDepth {
  std::string_view code;
  DType dtype;
};
constexpr std::array<CvDepth, 7> kCvDepths = {{
    {"8U", DType::kUInt8},
    {"8S", DType::kInt8},
    {"16U", DType::kUInt16},
    {"16S", DType::kInt16},
    {"32S", DType::kInt32},
    {"32F", DType::kFloat32},
    {"64F", DType::kFloat64},
}};

bool host_is_big_endian() {
  const uint16_t one = 1;
  uint8_t first = 0;
  std::memcpy(&first, &one, 1);
  return first == 0;
}

std::string shape_dtype(const Shape& shape, DType dtype) {
  return shape.to_string() + " " + std::string(dtype_name(dtype));
}

}  // namespace

std::optional<ImageEncoding> parse_image_encoding(std::string_view name) {
  for (const auto& e : kNamed) {
    if (e.name == name) return ImageEncoding{std::string(name), e.dtype, e.channels};
  }
  // <depth>C<n>, n in 1..4 (ROS also writes "8UC" + n for any n; 4 is the
  // most a pixel here has).
  for (const auto& d : kCvDepths) {
    if (name.size() == d.code.size() + 2 && name.substr(0, d.code.size()) == d.code &&
        name[d.code.size()] == 'C' && name.back() >= '1' && name.back() <= '4') {
      return ImageEncoding{std::string(name), d.dtype, name.back() - '0'};
    }
  }
  return std::nullopt;
}

ImageGeometry image_geometry(const Shape& shape, DType dtype, std::string_view encoding) {
  const auto enc = parse_image_encoding(encoding);
  if (!enc) {
    throw InvalidArgumentError("unknown or unsupported image encoding '" + std::string(encoding) +
                               "'");
  }
  const bool rank_ok = shape.ndim() == 3 || (shape.ndim() == 2 && enc->channels == 1);
  const int64_t channels = shape.ndim() == 3 ? shape[2] : 1;
  if (!rank_ok || channels != enc->channels || dtype != enc->dtype) {
    const std::string want = enc->channels == 1 ? "[h, w] or [h, w, 1]"
                                                : "[h, w, " + std::to_string(enc->channels) + "]";
    throw InvalidArgumentError("a " + shape_dtype(shape, dtype) + " tensor is not a '" + enc->name +
                               "' image, which is " + want + " " +
                               std::string(dtype_name(enc->dtype)));
  }
  const uint64_t step = static_cast<uint64_t>(shape[1]) * enc->channels * dtype_itemsize(dtype);
  constexpr uint64_t kMax = std::numeric_limits<uint32_t>::max();
  if (shape[0] < 0 || shape[1] < 0 || static_cast<uint64_t>(shape[0]) > kMax || step > kMax) {
    throw InvalidArgumentError("image " + shape.to_string() +
                               " is too large for sensor_msgs/Image");
  }
  return ImageGeometry{static_cast<uint32_t>(shape[0]), static_cast<uint32_t>(shape[1]),
                       static_cast<uint32_t>(step),
                       static_cast<uint8_t>(host_is_big_endian() ? 1 : 0)};
}

std::string default_image_encoding(const Shape& shape, DType dtype) {
  if (shape.ndim() != 2 && shape.ndim() != 3) {
    throw InvalidArgumentError("an image is [h, w] or [h, w, c], not " + shape.to_string());
  }
  const int64_t channels = shape.ndim() == 3 ? shape[2] : 1;
  if (channels < 1 || channels > 4) {
    throw InvalidArgumentError("an image has 1 to 4 channels, not " + std::to_string(channels) +
                               " (shape " + shape.to_string() + ")");
  }
  if (dtype == DType::kUInt8) {
    if (channels == 1) return "mono8";
    if (channels == 3) return "rgb8";
    if (channels == 4) return "rgba8";
  }
  if (dtype == DType::kUInt16 && channels == 1) return "mono16";
  for (const auto& d : kCvDepths) {
    if (d.dtype == dtype) return std::string(d.code) + "C" + std::to_string(channels);
  }
  throw InvalidArgumentError("no image encoding has " + std::string(dtype_name(dtype)) +
                             " pixels (OpenCV depths: uint8, int8, uint16, int16, int32, "
                             "float32, float64)");
}

TensorLayout image_tensor_layout(uint32_t height, uint32_t width, std::string_view encoding,
                                 uint8_t is_bigendian, uint32_t step, size_t data_size) {
  const auto enc = parse_image_encoding(encoding);
  if (!enc) {
    throw InvalidArgumentError("received an image with an unsupported encoding '" +
                               std::string(encoding) + "'");
  }
  const size_t itemsize = dtype_itemsize(enc->dtype);
  const uint64_t row = static_cast<uint64_t>(width) * enc->channels * itemsize;
  if (step != row) {
    throw InvalidArgumentError("received a " + std::to_string(width) + "x" +
                               std::to_string(height) + " '" + enc->name + "' image with step " +
                               std::to_string(step) + "; only packed rows (step " +
                               std::to_string(row) + ") are read");
  }
  if (itemsize > 1 && (is_bigendian != 0) != host_is_big_endian()) {
    throw InvalidArgumentError(
        "received a '" + enc->name +
        "' image in the other byte order (is_bigendian=" + std::to_string(is_bigendian) + ")");
  }
  if (data_size != static_cast<uint64_t>(step) * height) {
    throw InvalidArgumentError(
        "received an image whose data is " + std::to_string(data_size) +
        " bytes, not step * height = " + std::to_string(static_cast<uint64_t>(step) * height));
  }
  TensorLayout layout;
  layout.shape = {static_cast<int64_t>(height), static_cast<int64_t>(width)};
  if (enc->channels > 1) layout.shape.push_back(enc->channels);
  layout.dtype = enc->dtype;
  return layout;
}

std::vector<ArrayDimension> multi_array_layout(const Shape& shape,
                                               const std::vector<std::string>& labels) {
  if (!labels.empty() && labels.size() != shape.ndim()) {
    throw InvalidArgumentError(std::to_string(labels.size()) + " labels for a tensor of rank " +
                               std::to_string(shape.ndim()) + " " + shape.to_string());
  }
  std::vector<ArrayDimension> dims(shape.ndim());
  uint64_t stride = 1;
  for (size_t i = shape.ndim(); i-- > 0;) {
    stride *= static_cast<uint64_t>(shape[i]);
    if (shape[i] < 0 || stride > std::numeric_limits<uint32_t>::max()) {
      throw InvalidArgumentError("tensor " + shape.to_string() +
                                 " is too large for a MultiArrayLayout (uint32 sizes)");
    }
    dims[i].label = labels.empty() ? "dim" + std::to_string(i) : labels[i];
    dims[i].size = static_cast<uint32_t>(shape[i]);
    dims[i].stride = static_cast<uint32_t>(stride);
  }
  return dims;
}

std::vector<int64_t> multi_array_shape(const std::vector<ArrayDimension>& dims,
                                       uint32_t data_offset, size_t data_size) {
  if (data_offset != 0) {
    throw InvalidArgumentError("received a MultiArray with data_offset " +
                               std::to_string(data_offset) + "; only 0 is read");
  }
  if (dims.empty()) return {static_cast<int64_t>(data_size)};
  std::vector<int64_t> shape(dims.size());
  uint64_t stride = 1;
  for (size_t i = dims.size(); i-- > 0;) {
    stride *= dims[i].size;
    if (dims[i].stride != stride) {
      throw InvalidArgumentError("received a MultiArray whose dim[" + std::to_string(i) + "] ('" +
                                 dims[i].label + "') has stride " + std::to_string(dims[i].stride) +
                                 ", not " + std::to_string(stride) +
                                 ": only packed layouts are read");
    }
    shape[i] = dims[i].size;
  }
  if (stride != data_size) {
    throw InvalidArgumentError("received a MultiArray with " + std::to_string(data_size) +
                               " elements for a layout of " + std::to_string(stride));
  }
  return shape;
}

}  // namespace tensoripc::ros2
