// Command-line flags for the demo programs: "--key value" pairs and bare
// switches, looked up with defaults. Header-only; deliberately tiny.
#pragma once

#include <cstdio>
#include <cstdlib>
#include <map>
#include <set>
#include <string>

namespace demo {

class Args {
 public:
  // `switches` take no value; every other flag must be in `known` with a value.
  Args(int argc, char** argv, const std::set<std::string>& known,
       const std::set<std::string>& switches, const char* usage)
      : usage_(usage) {
    for (int i = 1; i < argc; ++i) {
      const std::string arg = argv[i];
      if (arg == "-h" || arg == "--help") fail("");
      if (switches.count(arg)) {
        values_[arg] = "1";
      } else if (known.count(arg) && i + 1 < argc) {
        values_[arg] = argv[++i];
      } else {
        fail(known.count(arg) ? arg + " needs a value" : "unknown argument " + arg);
      }
    }
  }

  std::string get(const std::string& key, const std::string& fallback) const {
    auto it = values_.find(key);
    return it == values_.end() ? fallback : it->second;
  }
  double number(const std::string& key, double fallback) const {
    auto it = values_.find(key);
    if (it == values_.end()) return fallback;
    char* end = nullptr;
    const double v = std::strtod(it->second.c_str(), &end);
    if (end == it->second.c_str() || *end != '\0') fail(key + " takes a number");
    return v;
  }
  bool has(const std::string& key) const { return values_.count(key) > 0; }

  [[noreturn]] void fail(const std::string& why) const {
    if (!why.empty()) std::fprintf(stderr, "%s\n", why.c_str());
    std::fprintf(stderr, "%s", usage_);
    std::exit(why.empty() ? 0 : 2);
  }

 private:
  const char* usage_;
  std::map<std::string, std::string> values_;
};

}  // namespace demo
