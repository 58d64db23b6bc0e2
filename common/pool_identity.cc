#include "common/pool_identity.h"

#include <algorithm>
#include <cctype>

namespace tensoripc {
namespace {

bool name_char(char c, bool first) {
  if (std::isalnum(static_cast<unsigned char>(c)) || c == '_') return true;
  return !first && (c == '.' || c == ':' || c == '-');
}

std::string printable(std::string_view s, size_t max = 40) {
  std::string out;
  for (char c : s.substr(0, max)) {
    out += std::isprint(static_cast<unsigned char>(c)) ? c : '?';
  }
  if (s.size() > max) out += "...";
  return out;
}

uint64_t fnv1a(uint64_t h, const void* data, size_t n) {
  const auto* p = static_cast<const unsigned char*>(data);
  for (size_t i = 0; i < n; ++i) {
    h ^= p[i];
    h *= 1099511628211ULL;
  }
  return h;
}

}  // namespace

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

v1::MemoryKind memory_kind_of(const v1::PoolMetadata& md) {
  return md.device().rfind("cuda", 0) == 0 ? v1::MEMORY_KIND_CUDA : v1::MEMORY_KIND_HOST;
}

int cuda_ordinal_of(const v1::PoolMetadata& md) {
  if (memory_kind_of(md) != v1::MEMORY_KIND_CUDA) return -1;
  if (md.device() == "cuda") return 0;
  return std::stoi(md.device().substr(5));
}

Status validate_and_complete(v1::PoolMetadata* md, const PoolLimits& limits) {
  if (Status s = validate_pool_name(md->name()); !s.ok()) return s;
  const std::string pool = "pool '" + md->name() + "': ";

  auto dtype = parse_dtype(md->dtype_str());
  if (!dtype) {
    return invalid_argument(pool + "unknown dtype '" + printable(md->dtype_str()) +
                            "'; expected one of " + dtype_names_joined());
  }
  if (md->shape_size() > static_cast<int>(kMaxDims)) {
    return invalid_argument(pool + "shape has " + std::to_string(md->shape_size()) +
                            " dimensions; the limit is " + std::to_string(kMaxDims));
  }
  if (md->history_len() == 0 || md->history_len() > kMaxHistoryLen) {
    return invalid_argument(pool + "history_len is " + std::to_string(md->history_len()) +
                            "; it must be 1 to " + std::to_string(kMaxHistoryLen));
  }
  uint64_t elements = 1;
  for (int64_t d : md->shape()) {
    if (d <= 0) {
      return invalid_argument(pool + "shape " + shape_string(*md) +
                              " has a dimension <= 0; every dimension must be at least 1");
    }
    if (__builtin_mul_overflow(elements, static_cast<uint64_t>(d), &elements)) {
      return invalid_argument(pool + "shape " + shape_string(*md) + " has too many elements");
    }
  }
  const uint64_t itemsize = dtype_itemsize(*dtype);
  uint64_t frame = 0;
  uint64_t total = 0;
  if (__builtin_mul_overflow(elements, itemsize, &frame) ||
      __builtin_mul_overflow(frame, static_cast<uint64_t>(md->history_len()), &total)) {
    return invalid_argument(pool + "shape " + shape_string(*md) + " x history_len " +
                            std::to_string(md->history_len()) + " overflows 64-bit sizes");
  }
  if (total > limits.max_pool_bytes) {
    return resource_exhausted(pool + std::to_string(frame) + " bytes a frame x history_len " +
                              std::to_string(md->history_len()) + " = " + std::to_string(total) +
                              " bytes, over the daemon's limit of " +
                              std::to_string(limits.max_pool_bytes) + " (--max-pool-bytes)");
  }

  std::string device = md->device().empty() ? "cpu" : md->device();
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
  std::string backend = md->backend_type();
  if (backend.empty()) backend = cuda ? "torch_cuda" : "numpy";
  if (backend != "numpy" && backend != "torch" && backend != "torch_cuda") {
    return invalid_argument(pool + "backend_type '" + printable(backend) +
                            "' is not one of numpy, torch, torch_cuda");
  }
  if ((backend == "torch_cuda") != cuda) {
    return invalid_argument(pool + "backend_type '" + backend + "' does not go with device '" +
                            device + "'");
  }
  if (md->payload_json().size() > kMaxPayloadJson) {
    return invalid_argument(pool + "payload_json is over " + std::to_string(kMaxPayloadJson) +
                            " bytes");
  }

  md->set_dtype_str(std::string(dtype_name(*dtype)));
  md->set_device(device);
  md->set_backend_type(backend);
  md->set_element_size(itemsize);
  md->set_total_size(total);
  return {};
}

uint64_t frame_bytes(const v1::PoolMetadata& md) {
  uint64_t n = md.element_size();
  if (n == 0) {
    auto dtype = parse_dtype(md.dtype_str());
    n = dtype ? dtype_itemsize(*dtype) : 0;
  }
  for (int64_t d : md.shape()) n *= static_cast<uint64_t>(d);
  return n;
}

bool same_identity(const v1::PoolMetadata& a, const v1::PoolMetadata& b) {
  return describe_identity_mismatch(a, b).empty();
}

std::string describe_identity_mismatch(const v1::PoolMetadata& expected,
                                       const v1::PoolMetadata& actual) {
  std::string out;
  auto add = [&out](const std::string& what, const std::string& e, const std::string& a) {
    if (!out.empty()) out += "; ";
    out += what + ": expected " + e + ", pool has " + a;
  };
  if (expected.name() != actual.name()) add("name", expected.name(), actual.name());
  if (!std::equal(expected.shape().begin(), expected.shape().end(), actual.shape().begin(),
                  actual.shape().end())) {
    add("shape", shape_string(expected), shape_string(actual));
  }
  if (expected.dtype_str() != actual.dtype_str()) {
    add("dtype", expected.dtype_str(), actual.dtype_str());
  }
  if (expected.history_len() != actual.history_len()) {
    add("history_len", std::to_string(expected.history_len()),
        std::to_string(actual.history_len()));
  }
  const std::string ed = expected.device().empty() ? "cpu" : expected.device();
  const std::string ad = actual.device().empty() ? "cpu" : actual.device();
  if (ed != ad) add("device", ed, ad);
  return out;
}

uint64_t identity_digest(const v1::PoolMetadata& md) {
  uint64_t h = 14695981039346656037ULL;
  auto mix = [&h](const std::string& s) {
    h = fnv1a(h, s.data(), s.size());
    h = fnv1a(h, "\0", 1);
  };
  mix(md.name());
  for (int64_t d : md.shape()) h = fnv1a(h, &d, sizeof d);
  mix(md.dtype_str());
  const uint32_t hl = md.history_len();
  h = fnv1a(h, &hl, sizeof hl);
  mix(md.device().empty() ? "cpu" : md.device());
  return h;
}

std::string shape_string(const v1::PoolMetadata& md) {
  std::string out = "[";
  for (int i = 0; i < md.shape_size(); ++i) {
    if (i) out += ", ";
    out += std::to_string(md.shape(i));
  }
  return out + "]";
}

std::string segment_name(std::string_view prefix, std::string_view pool_name) {
  std::string out = "/";
  out += prefix;
  out += pool_name;
  return out;
}

}  // namespace tensoripc
