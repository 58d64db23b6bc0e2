#include "pool/model.h"

#include <algorithm>
#include <cctype>

namespace tensoripc {
namespace {

bool name_char(char c, bool first) {
  if (std::isalnum(static_cast<unsigned char>(c)) || c == '_') return true;
  return !first && (c == '.' || c == ':' || c == '-');
}

uint64_t fnv1a(uint64_t h, const void* data, size_t n) {
  const auto* p = static_cast<const unsigned char*>(data);
  for (size_t i = 0; i < n; ++i) {
    h ^= p[i];
    h *= 1099511628211ULL;
  }
  return h;
}

const std::string& device_or_cpu(const std::string& device) {
  static const std::string kCpu = "cpu";
  return device.empty() ? kCpu : device;
}

}  // namespace

StatusOr<uint32_t> effective_keep_last(uint32_t requested) {
  if (requested > kMaxKeepLast) {
    return invalid_argument("keep_last is " + std::to_string(requested) + "; it must be 0 (for " +
                            std::to_string(kDefaultKeepLast) + ") to " +
                            std::to_string(kMaxKeepLast));
  }
  return keep_last_or_default(requested);
}

std::string printable(std::string_view s, size_t max) {
  std::string out;
  for (char c : s.substr(0, max)) {
    out += std::isprint(static_cast<unsigned char>(c)) ? c : '?';
  }
  if (s.size() > max) out += "...";
  return out;
}

Status validate_pool_name(std::string_view name) {
  if (name.empty()) return invalid_argument("pool name is empty");
  if (name.size() > kMaxPoolNameLength) {
    return invalid_argument("pool name is " + std::to_string(name.size()) +
                            " characters long; the limit is " + std::to_string(kMaxPoolNameLength));
  }
  for (size_t i = 0; i < name.size(); ++i) {
    if (!name_char(name[i], i == 0)) {
      return invalid_argument("pool name '" + printable(name) +
                              "' is not allowed: use letters, digits and '_', then also '.', ':' "
                              "or '-' (no '/', no leading '.')");
    }
  }
  return {};
}

Status validate_shm_prefix(std::string_view prefix) {
  if (prefix.empty() || prefix.size() > kMaxPrefixLength) {
    return invalid_argument("shm prefix must be 1 to " + std::to_string(kMaxPrefixLength) +
                            " characters");
  }
  for (char c : prefix) {
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '.' || c == '-')) {
      return invalid_argument("shm prefix '" + printable(prefix) +
                              "' may hold only letters, digits, '_', '.' and '-'");
    }
  }
  return {};
}

std::string memory_label(std::string_view prefix, std::string_view pool_name) {
  std::string out(prefix);
  out += pool_name;
  return out;
}

Device device_of(const PoolMetadata& md) {
  const std::string& d = md.device;
  if (d.rfind("cuda", 0) != 0) return Device::host();
  return Device::cuda(d.size() > 5 ? std::stoi(d.substr(5)) : 0);
}

Status complete_metadata(PoolMetadata* md, const PoolLimits& limits) {
  if (Status s = validate_pool_name(md->name); !s.ok()) return s;
  const std::string pool = "pool '" + md->name + "': ";

  if (md->shape.size() > kMaxDims) {
    return invalid_argument(pool + "shape has " + std::to_string(md->shape.size()) +
                            " dimensions; the limit is " + std::to_string(kMaxDims));
  }
  if (md->history_len == 0 || md->history_len > kMaxHistoryLen) {
    return invalid_argument(pool + "history_len is " + std::to_string(md->history_len) +
                            "; it must be 1 to " + std::to_string(kMaxHistoryLen));
  }
  uint64_t elements = 1;
  for (int64_t d : md->shape) {
    if (d <= 0) {
      return invalid_argument(pool + "shape " + format_shape(md->shape) +
                              " has a dimension <= 0; every dimension must be at least 1");
    }
    if (__builtin_mul_overflow(elements, static_cast<uint64_t>(d), &elements)) {
      return invalid_argument(pool + "shape " + format_shape(md->shape) + " has too many elements");
    }
  }
  const uint64_t itemsize = dtype_itemsize(md->dtype);
  uint64_t frame = 0;
  uint64_t total = 0;
  if (__builtin_mul_overflow(elements, itemsize, &frame) ||
      __builtin_mul_overflow(frame, static_cast<uint64_t>(md->history_len), &total)) {
    return invalid_argument(pool + "shape " + format_shape(md->shape) + " x history_len " +
                            std::to_string(md->history_len) + " overflows 64-bit sizes");
  }
  if (total > limits.max_pool_bytes) {
    return resource_exhausted(pool + std::to_string(frame) + " bytes a frame x history_len " +
                              std::to_string(md->history_len) + " = " + std::to_string(total) +
                              " bytes, over the daemon's limit of " +
                              std::to_string(limits.max_pool_bytes) + " (--max-pool-bytes)");
  }

  const std::string device = device_or_cpu(md->device);
  if (device != "cpu") {
    bool ok = device.rfind("cuda", 0) == 0;
    if (ok && device != "cuda") {
      ok = device.size() > 5 && device[4] == ':' && device.size() <= 8 &&
           std::all_of(device.begin() + 5, device.end(),
                       [](char c) { return std::isdigit(static_cast<unsigned char>(c)); });
    }
    if (!ok) {
      return invalid_argument(pool + "device '" + printable(device) +
                              "' is not 'cpu', 'cuda' or 'cuda:N'");
    }
  }
  const bool cuda = device != "cpu";
  std::string backend = md->backend_type;
  if (backend.empty()) backend = cuda ? "torch_cuda" : "numpy";
  if (backend != "numpy" && backend != "torch" && backend != "torch_cuda") {
    return invalid_argument(pool + "backend_type '" + printable(backend) +
                            "' is not one of numpy, torch, torch_cuda");
  }
  if ((backend == "torch_cuda") != cuda) {
    return invalid_argument(pool + "backend_type '" + backend + "' does not go with device '" +
                            device + "'");
  }
  if (md->payload_json.size() > kMaxPayloadJson) {
    return invalid_argument(pool + "payload_json is over " + std::to_string(kMaxPayloadJson) +
                            " bytes");
  }

  md->device = device;
  md->backend_type = std::move(backend);
  md->element_size = itemsize;
  md->total_size = total;
  return {};
}

uint64_t frame_bytes(const PoolMetadata& md) {
  uint64_t n = dtype_itemsize(md.dtype);
  for (int64_t d : md.shape) n *= static_cast<uint64_t>(d < 0 ? 0 : d);
  return n;
}

bool same_identity(const PoolMetadata& a, const PoolMetadata& b) {
  return a.name == b.name && a.shape == b.shape && a.dtype == b.dtype &&
         a.history_len == b.history_len && device_or_cpu(a.device) == device_or_cpu(b.device);
}

std::string describe_identity_mismatch(const PoolMetadata& expected, const PoolMetadata& actual) {
  std::string out;
  auto add = [&out](const std::string& what, const std::string& e, const std::string& a) {
    if (!out.empty()) out += "; ";
    out += what + ": expected " + e + ", pool has " + a;
  };
  if (expected.name != actual.name) add("name", expected.name, actual.name);
  if (expected.shape != actual.shape) {
    add("shape", format_shape(expected.shape), format_shape(actual.shape));
  }
  if (expected.dtype != actual.dtype) {
    add("dtype", std::string(expected.dtype_str()), std::string(actual.dtype_str()));
  }
  if (expected.history_len != actual.history_len) {
    add("history_len", std::to_string(expected.history_len), std::to_string(actual.history_len));
  }
  const std::string& ed = device_or_cpu(expected.device);
  const std::string& ad = device_or_cpu(actual.device);
  if (ed != ad) add("device", ed, ad);
  return out;
}

bool equal_but_creator_pid(const PoolMetadata& a, const PoolMetadata& b) {
  return a.name == b.name && a.shape == b.shape && a.dtype == b.dtype &&
         a.backend_type == b.backend_type && a.history_len == b.history_len &&
         a.device == b.device && a.element_size == b.element_size && a.total_size == b.total_size &&
         a.shm_name == b.shm_name && a.payload_json == b.payload_json;
}

uint64_t identity_digest(const PoolMetadata& md) {
  uint64_t h = 14695981039346656037ULL;
  auto mix = [&h](std::string_view s) {
    h = fnv1a(h, s.data(), s.size());
    h = fnv1a(h, "\0", 1);
  };
  mix(md.name);
  for (int64_t d : md.shape) h = fnv1a(h, &d, sizeof d);
  mix(md.dtype_str());
  const uint32_t hl = md.history_len;
  h = fnv1a(h, &hl, sizeof hl);
  mix(device_or_cpu(md.device));
  return h;
}

std::string describe_pool(const PoolMetadata& md) {
  return "pool '" + md.name + "': " + format_shape(md.shape) + " " + std::string(md.dtype_str()) +
         " x " + std::to_string(md.history_len) + " on " + device_or_cpu(md.device);
}

std::string format_shape(const int64_t* dims, size_t ndim) {
  std::string out = "[";
  for (size_t i = 0; i < ndim; ++i) {
    if (i) out += ", ";
    out += std::to_string(dims[i]);
  }
  return out + "]";
}

}  // namespace tensoripc
