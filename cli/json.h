// A small streaming JSON writer for the tensor-ipc command's --json output:
// one compact document per call of str(), which commands print one per line
// (so `tensor-ipc hz camera --json | jq` works line by line).
//
// Not thread-safe; one writer per document.
#pragma once

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <string>
#include <string_view>
#include <vector>

namespace tensoripc::cli {

class Json {
 public:
  Json& begin_object() { return open('{'); }
  Json& end_object() { return close('}'); }
  Json& begin_array() { return open('['); }
  Json& end_array() { return close(']'); }

  // The key of the next value in an object.
  Json& key(std::string_view k) {
    separate();
    quote(k);
    out_ += ':';
    after_key_ = true;
    return *this;
  }

  Json& value(std::string_view s) {
    separate();
    quote(s);
    return *this;
  }
  Json& value(const char* s) { return value(std::string_view(s)); }
  Json& value(const std::string& s) { return value(std::string_view(s)); }
  Json& value(bool b) { return raw(b ? "true" : "false"); }
  Json& value(int v) { return raw(std::to_string(v)); }
  Json& value(long v) { return raw(std::to_string(v)); }
  Json& value(long long v) { return raw(std::to_string(v)); }
  Json& value(unsigned v) { return raw(std::to_string(v)); }
  Json& value(unsigned long v) { return raw(std::to_string(v)); }
  Json& value(unsigned long long v) { return raw(std::to_string(v)); }
  // JSON has no NaN or infinity: they are written as null.
  Json& value(double v) {
    if (!std::isfinite(v)) return null();
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.17g", v);
    return raw(buf);
  }
  Json& null() { return raw("null"); }
  template <typename T>
  Json& array(const std::vector<T>& items) {
    begin_array();
    for (const T& item : items) value(item);
    return end_array();
  }

  // key(k).value(v) in one.
  template <typename T>
  Json& field(std::string_view k, const T& v) {
    key(k);
    return value(v);
  }

  const std::string& str() const { return out_; }

 private:
  Json& open(char c) {
    separate();
    out_ += c;
    first_.push_back(true);
    return *this;
  }
  Json& close(char c) {
    out_ += c;
    first_.pop_back();
    return *this;
  }
  Json& raw(std::string_view text) {
    separate();
    out_ += text;
    return *this;
  }
  // A comma before every value but the first of its container (a value
  // right after its key takes none).
  void separate() {
    if (after_key_) {
      after_key_ = false;
      return;
    }
    if (first_.empty()) return;
    if (!first_.back()) out_ += ',';
    first_.back() = false;
  }
  void quote(std::string_view s) {
    out_ += '"';
    for (const char ch : s) {
      const auto c = static_cast<unsigned char>(ch);
      switch (c) {
        case '"': out_ += "\\\""; break;
        case '\\': out_ += "\\\\"; break;
        case '\n': out_ += "\\n"; break;
        case '\r': out_ += "\\r"; break;
        case '\t': out_ += "\\t"; break;
        default:
          if (c < 0x20) {
            char buf[8];
            std::snprintf(buf, sizeof buf, "\\u%04x", c);
            out_ += buf;
          } else {
            out_ += ch;
          }
      }
    }
    out_ += '"';
  }

  std::string out_;
  std::vector<bool> first_;  // per open container: no value written yet
  bool after_key_ = false;
};

}  // namespace tensoripc::cli
