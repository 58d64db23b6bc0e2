// How the tensor-ipc command writes things for people: times, sizes, shapes,
// tables. (--json output writes raw numbers instead.)
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace tensoripc::cli {

// RFC 3339 in UTC with milliseconds: "2026-12-01T15:34:25.325Z"; "-" for 0.
std::string format_time(int64_t unix_ns);
// "3.69 MB", "512 B", "4.29 GB" (powers of 1000, as `ros2 topic bw`).
std::string format_bytes(double bytes);
// "1.2 s", "33.3 ms", "850 us".
std::string format_duration(double seconds);
// "[480, 640, 3]".
std::string format_shape(const std::vector<int64_t>& shape);
// printf into a std::string.
std::string strprintf(const char* format, ...) __attribute__((format(printf, 1, 2)));

// Rows of cells printed as columns, each as wide as its widest cell, the
// first row (the header) included.
class Table {
 public:
  explicit Table(std::vector<std::string> header) { rows_.push_back(std::move(header)); }
  void add(std::vector<std::string> row) { rows_.push_back(std::move(row)); }
  std::string str() const;

 private:
  std::vector<std::vector<std::string>> rows_;
};

}  // namespace tensoripc::cli
