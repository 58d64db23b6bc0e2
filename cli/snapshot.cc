#include "snapshot.h"

#include <png.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <memory>
#include <tuple>
#include <vector>

#include "tensoripc/error.h"
#include "values.h"

namespace tensoripc::cli {
namespace {

struct FileCloser {
  void operator()(std::FILE* f) const { std::fclose(f); }
};
using File = std::unique_ptr<std::FILE, FileCloser>;

File open_for_writing(const std::string& path) {
  File f(std::fopen(path.c_str(), "wb"));
  if (!f) throw Error("cannot write " + path + ": " + std::strerror(errno));
  return f;
}

void finish(File f, const std::string& path) {
  const bool failed = std::ferror(f.get()) != 0;
  if (std::fclose(f.release()) != 0 || failed) {
    throw Error("cannot write " + path + ": " + std::strerror(errno));
  }
}

// numpy's type string for a dtype (bfloat16 is written as float32).
const char* npy_descr(DType dtype) {
  switch (dtype) {
    case DType::kBool: return "|b1";
    case DType::kInt8: return "|i1";
    case DType::kInt16: return "<i2";
    case DType::kInt32: return "<i4";
    case DType::kInt64: return "<i8";
    case DType::kUInt8: return "|u1";
    case DType::kUInt16: return "<u2";
    case DType::kUInt32: return "<u4";
    case DType::kUInt64: return "<u8";
    case DType::kFloat16: return "<f2";
    case DType::kBFloat16: return "<f4";
    case DType::kFloat32: return "<f4";
    case DType::kFloat64: return "<f8";
    case DType::kComplex64: return "<c8";
    case DType::kComplex128: return "<c16";
  }
  return "|V1";
}

// The values a PNG maps to black and white when the caller gave none: the
// 0.1st and 99.9th percentiles of the finite values (a few outliers, a
// header in the pixels, do not wash the image out), and 0..1 when those lie
// within it (images as pipelines normalise them keep their brightness).
std::pair<double, double> auto_range(const TensorView& frame) {
  std::vector<double> values;
  values.reserve(frame.numel());
  for (size_t i = 0; i < frame.numel(); ++i) {
    const double v = element_as_double(frame.data(), frame.dtype(), i);
    if (std::isfinite(v)) values.push_back(v);
  }
  if (values.empty()) return {0.0, 1.0};
  auto at = [&](double q) {
    auto it = values.begin() + static_cast<std::ptrdiff_t>(q * static_cast<double>(values.size() - 1));
    std::nth_element(values.begin(), it, values.end());
    return *it;
  };
  const double lo = at(0.001);
  const double hi = at(0.999);
  if (lo >= 0.0 && hi <= 1.0) return {0.0, 1.0};
  return {lo, hi};
}

}  // namespace

void write_npy(const std::string& path, const TensorView& frame) {
  // Python's tuple: (), (5,), (480, 640, 3).
  std::string shape = "(";
  for (size_t i = 0; i < frame.ndim(); ++i) {
    if (i > 0) shape += ", ";
    shape += std::to_string(frame.shape()[i]);
  }
  if (frame.ndim() == 1) shape += ",";
  shape += ")";
  std::string header = std::string("{'descr': '") + npy_descr(frame.dtype()) +
                       "', 'fortran_order': False, 'shape': " + shape + ", }";
  // Magic (6), version (2), header length (2), then the header padded with
  // spaces and ended by a newline so the data starts 64-byte aligned.
  const size_t unpadded = 10 + header.size() + 1;
  header.append((64 - unpadded % 64) % 64, ' ');
  header += '\n';
  File f = open_for_writing(path);
  const unsigned char preamble[10] = {0x93, 'N', 'U', 'M', 'P', 'Y', 1, 0,
                                      static_cast<unsigned char>(header.size() & 0xff),
                                      static_cast<unsigned char>(header.size() >> 8)};
  std::fwrite(preamble, 1, sizeof preamble, f.get());
  std::fwrite(header.data(), 1, header.size(), f.get());
  if (frame.dtype() == DType::kBFloat16) {
    std::vector<float> widened(frame.numel());
    for (size_t i = 0; i < widened.size(); ++i) {
      widened[i] = static_cast<float>(element_as_double(frame.data(), frame.dtype(), i));
    }
    std::fwrite(widened.data(), sizeof(float), widened.size(), f.get());
  } else {
    std::fwrite(frame.data(), 1, frame.nbytes(), f.get());
  }
  finish(std::move(f), path);
}

std::optional<std::string> not_an_image(const TensorView& frame) {
  const Shape& s = frame.shape();
  if (s.ndim() != 2 && s.ndim() != 3) {
    return "an image is H x W or H x W x C, and this frame is " + s.to_string();
  }
  if (s.ndim() == 3 && s[2] != 1 && s[2] != 3 && s[2] != 4) {
    return "an image has 1, 3 or 4 channels (grey, RGB, RGBA), and this frame's last "
           "dimension is " +
           std::to_string(s[2]) + " (" + s.to_string() + ")";
  }
  if (s[0] <= 0 || s[1] <= 0) return "an image needs at least one pixel: " + s.to_string();
  if (frame.dtype() == DType::kComplex64 || frame.dtype() == DType::kComplex128) {
    return "a complex frame is not an image";
  }
  return std::nullopt;
}

void write_png(const std::string& path, const TensorView& frame,
               std::optional<std::pair<double, double>> range) {
  if (auto why = not_an_image(frame)) throw InvalidArgumentError("no PNG of this pool: " + *why);
  const auto height = static_cast<png_uint_32>(frame.shape()[0]);
  const auto width = static_cast<png_uint_32>(frame.shape()[1]);
  const int channels = frame.ndim() == 3 ? static_cast<int>(frame.shape()[2]) : 1;
  const int color_type = channels == 1   ? PNG_COLOR_TYPE_GRAY
                         : channels == 3 ? PNG_COLOR_TYPE_RGB
                                         : PNG_COLOR_TYPE_RGBA;
  const size_t samples = size_t{height} * width * channels;

  // The samples as PNG wants them: 8-bit, or big-endian 16-bit for uint16.
  const bool sixteen = frame.dtype() == DType::kUInt16;
  std::vector<unsigned char> pixels(samples * (sixteen ? 2 : 1));
  if (frame.dtype() == DType::kUInt8) {
    std::memcpy(pixels.data(), frame.data(), samples);
  } else if (sixteen) {
    for (size_t i = 0; i < samples; ++i) {
      const auto v = static_cast<uint16_t>(element_as_double(frame.data(), frame.dtype(), i));
      pixels[2 * i] = static_cast<unsigned char>(v >> 8);
      pixels[2 * i + 1] = static_cast<unsigned char>(v & 0xff);
    }
  } else {
    double lo = 0;
    double hi = 1;
    if (frame.dtype() == DType::kBool) {
      // 0 and 1 as black and white.
    } else if (range) {
      std::tie(lo, hi) = *range;
    } else {
      std::tie(lo, hi) = auto_range(frame);
    }
    const double span = hi > lo ? hi - lo : 1.0;
    for (size_t i = 0; i < samples; ++i) {
      const double v = element_as_double(frame.data(), frame.dtype(), i);
      double scaled = std::isnan(v) ? 0.0 : (v - lo) / span * 255.0;
      scaled = std::fmin(255.0, std::fmax(0.0, scaled));
      pixels[i] = static_cast<unsigned char>(std::lround(scaled));
    }
  }

  File f = open_for_writing(path);
  png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, nullptr, nullptr, nullptr);
  png_infop info = png ? png_create_info_struct(png) : nullptr;
  if (!png || !info) {
    png_destroy_write_struct(&png, nullptr);
    throw Error("cannot write " + path + ": libpng could not start");
  }
  std::vector<png_bytep> rows(height);
  const size_t row_bytes = size_t{width} * channels * (sixteen ? 2 : 1);
  for (png_uint_32 y = 0; y < height; ++y) rows[y] = pixels.data() + y * row_bytes;
  // libpng reports errors by longjmp; nothing with a destructor is created
  // between here and the end of the writing.
  if (setjmp(png_jmpbuf(png))) {
    png_destroy_write_struct(&png, &info);
    throw Error("cannot write " + path + ": libpng failed");
  }
  png_init_io(png, f.get());
  png_set_IHDR(png, info, width, height, sixteen ? 16 : 8, color_type, PNG_INTERLACE_NONE,
               PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
  png_write_info(png, info);
  png_write_image(png, rows.data());
  png_write_end(png, nullptr);
  png_destroy_write_struct(&png, &info);
  finish(std::move(f), path);
}

}  // namespace tensoripc::cli
