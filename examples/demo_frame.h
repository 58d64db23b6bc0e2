// The demo's frame format, shared by cpp_producer and cpp_consumer: a
// camera-like image whose first 16 bytes carry a frame counter and a
// checksum of everything else, so a consumer can prove each frame arrived
// whole. Header-only; copy it with the examples.
//
//   bytes [0, 8)   frame counter (the producer's, from 1)
//   bytes [8, 16)  checksum of the counter and of bytes [16, n)
//   bytes [16, n)  pixels: a diagonal gradient that moves with the counter
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>

namespace demo {

constexpr size_t kHeaderBytes = 16;

// FNV-1a over 64-bit words: fast enough for 3.7 MB frames at camera rates,
// and any torn or stale byte changes it.
inline uint64_t checksum(uint64_t counter, const uint8_t* data, size_t n) {
  uint64_t h = 1469598103934665603ULL ^ counter;
  size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    uint64_t w;
    std::memcpy(&w, data + i, 8);
    h = (h ^ w) * 1099511628211ULL;
  }
  for (; i < n; ++i) h = (h ^ data[i]) * 1099511628211ULL;
  return h;
}

// Fills a height x width x channels image of T (uint8_t or float) and stamps
// the header. `frame` holds height * width * channels elements.
template <typename T>
void fill_frame(T* frame, int height, int width, int channels, uint64_t counter) {
  for (int y = 0; y < height; ++y) {
    T* row = frame + static_cast<size_t>(y) * width * channels;
    for (int x = 0; x < width; ++x) {
      const uint8_t v = static_cast<uint8_t>(x + y + 2 * counter);
      for (int c = 0; c < channels; ++c) {
        const uint8_t p = static_cast<uint8_t>(v + 85 * c);
        // uint8 pixels are 0..255; float pixels 0..1, as image pipelines use.
        if constexpr (sizeof(T) == 1) {
          row[x * channels + c] = p;
        } else {
          row[x * channels + c] = static_cast<T>(p / 255.0f);
        }
      }
    }
  }
  auto* bytes = reinterpret_cast<uint8_t*>(frame);
  const size_t n = sizeof(T) * height * width * channels;
  const uint64_t sum = checksum(counter, bytes + kHeaderBytes, n - kHeaderBytes);
  std::memcpy(bytes, &counter, 8);
  std::memcpy(bytes + 8, &sum, 8);
}

// True when the frame is whole; *counter is then the producer's counter.
inline bool check_frame(const void* frame, size_t n, uint64_t* counter) {
  const auto* bytes = static_cast<const uint8_t*>(frame);
  uint64_t sum;
  std::memcpy(counter, bytes, 8);
  std::memcpy(&sum, bytes + 8, 8);
  return sum == checksum(*counter, bytes + kHeaderBytes, n - kHeaderBytes);
}

}  // namespace demo
