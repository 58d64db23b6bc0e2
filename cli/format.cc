#include "format.h"

#include <algorithm>
#include <cstdarg>
#include <cstdio>
#include <ctime>
#include <string>

namespace tensoripc::cli {

std::string format_time(int64_t unix_ns) {
  if (unix_ns == 0) return "-";
  const time_t seconds = static_cast<time_t>(unix_ns / 1000000000);
  const int millis = static_cast<int>((unix_ns % 1000000000) / 1000000);
  struct tm utc {};
  gmtime_r(&seconds, &utc);
  char buf[40];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &utc);
  return strprintf("%s.%03dZ", buf, millis);
}

namespace {

// Three significant digits; a value that rounds up to 1000 is 1.00 of the next unit.
bool fits_three_digits(double v) { return std::stod(strprintf("%.3g", v)) < 1000; }

}  // namespace

std::string format_bytes(double bytes) {
  static const char* const kUnits[] = {"B", "kB", "MB", "GB", "TB", "PB"};
  int unit = 0;
  while (unit < 5 && (bytes >= 1000 || (unit > 0 && !fits_three_digits(bytes)))) {
    bytes /= 1000;
    ++unit;
  }
  if (unit == 0) return strprintf("%.0f B", bytes);
  if (!fits_three_digits(bytes)) return strprintf("%.0f %s", bytes, kUnits[unit]);
  return strprintf("%.3g %s", bytes, kUnits[unit]);
}

std::string format_duration(double seconds) {
  if (seconds >= 1 || !fits_three_digits(seconds * 1e3)) return strprintf("%.3g s", seconds);
  if (seconds >= 1e-3 || !fits_three_digits(seconds * 1e6)) {
    return strprintf("%.3g ms", seconds * 1e3);
  }
  return strprintf("%.3g us", seconds * 1e6);
}

std::string format_shape(const std::vector<int64_t>& shape) {
  std::string s = "[";
  for (size_t i = 0; i < shape.size(); ++i) {
    if (i > 0) s += ", ";
    s += std::to_string(shape[i]);
  }
  return s + "]";
}

std::string strprintf(const char* format, ...) {
  va_list args;
  va_start(args, format);
  va_list again;
  va_copy(again, args);
  const int n = std::vsnprintf(nullptr, 0, format, args);
  va_end(args);
  std::string out(n > 0 ? static_cast<size_t>(n) : 0, '\0');
  if (n > 0) std::vsnprintf(out.data(), out.size() + 1, format, again);
  va_end(again);
  return out;
}

std::string Table::str() const {
  std::vector<size_t> width;
  for (const auto& row : rows_) {
    if (width.size() < row.size()) width.resize(row.size(), 0);
    for (size_t i = 0; i < row.size(); ++i) width[i] = std::max(width[i], row[i].size());
  }
  std::string out;
  for (const auto& row : rows_) {
    std::string line;
    for (size_t i = 0; i < row.size(); ++i) {
      line += row[i];
      if (i + 1 < row.size()) line.append(width[i] - row[i].size() + 2, ' ');
    }
    out += line + "\n";
  }
  return out;
}

}  // namespace tensoripc::cli
