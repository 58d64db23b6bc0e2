// The test frame format: every frame carries its seq and a checksum, so any
// process can tell an intact frame from a torn one without knowing what was
// sent. An n-byte frame (n a multiple of 8, n >= 16) is n/8 little 64-bit
// words: word 0 is the seq, word i (0 < i < last) is seq * K1 + i * K2, the
// last is the xor of all the others (the checksum). Every word depends on the
// seq, so a frame mixed from two writes fails the check wherever they meet.
// Cheap to make and check (memcpy speed), so a producer spends its time in
// put() and a kill lands mid-put often. An all-zero frame is one never
// written (or lost).
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>

namespace tensoripc::testing {

inline constexpr uint64_t kPatternK1 = 0x9E3779B97F4A7C15ULL;
inline constexpr uint64_t kPatternK2 = 0xC2B2AE3D27D4EB4FULL;

inline void fill_test_frame(uint8_t* p, size_t n, uint64_t seq) {
  const size_t words = n / 8;
  uint64_t sum = seq;
  std::memcpy(p, &seq, 8);
  for (size_t i = 1; i + 1 < words; ++i) {
    const uint64_t w = seq * kPatternK1 + i * kPatternK2;
    std::memcpy(p + i * 8, &w, 8);
    sum ^= w;
  }
  std::memcpy(p + (words - 1) * 8, &sum, 8);
}

enum class FrameCheck { kIntact, kZero, kTorn };

// Checks a frame; on kIntact *seq is the seq it carries, on kZero 0.
inline FrameCheck check_test_frame(const uint8_t* p, size_t n, uint64_t* seq) {
  const size_t words = n / 8;
  std::memcpy(seq, p, 8);
  uint64_t sum = *seq;
  bool pattern_ok = true;
  bool all_zero = *seq == 0;
  for (size_t i = 1; i + 1 < words; ++i) {
    uint64_t w;
    std::memcpy(&w, p + i * 8, 8);
    pattern_ok &= w == *seq * kPatternK1 + i * kPatternK2;
    all_zero &= w == 0;
    sum ^= w;
  }
  uint64_t stored;
  std::memcpy(&stored, p + (words - 1) * 8, 8);
  if (*seq != 0 && pattern_ok && stored == sum) return FrameCheck::kIntact;
  if (all_zero && stored == 0) return FrameCheck::kZero;
  return FrameCheck::kTorn;
}

}  // namespace tensoripc::testing
