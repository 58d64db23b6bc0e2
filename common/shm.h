// POSIX shared memory behind two small RAII types: a segment file descriptor
// and a mapping. The only place that calls shm_open/mmap.
#pragma once

#include <sys/types.h>

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "common/status.h"

namespace tensoripc {

// An open shm segment. Owns the fd; movable, not copyable; not thread-safe.
class ShmFile {
 public:
  ShmFile() = default;
  ~ShmFile();
  ShmFile(ShmFile&& other) noexcept;
  ShmFile& operator=(ShmFile&& other) noexcept;
  ShmFile(const ShmFile&) = delete;
  ShmFile& operator=(const ShmFile&) = delete;

  // Creates `name` exclusively with `mode` (not filtered by the umask) and
  // reserves `size` bytes up front with posix_fallocate, so a full /dev/shm
  // is RESOURCE_EXHAUSTED now instead of a SIGBUS later. On any error the
  // segment is unlinked again: nothing is left behind.
  static StatusOr<ShmFile> create(const std::string& name, size_t size, mode_t mode);

  // Opens an existing segment for reading, or reading and writing.
  static StatusOr<ShmFile> open(const std::string& name, bool writable);

  static bool unlink(const std::string& name);

  int fd() const { return fd_; }
  const std::string& name() const { return name_; }
  StatusOr<size_t> size() const;

 private:
  int fd_ = -1;
  std::string name_;
};

// A mapping of part of a segment. Owns the mapping; movable; not thread-safe.
class Mapping {
 public:
  enum class Access { kRead, kReadWrite };

  Mapping() = default;
  ~Mapping();
  Mapping(Mapping&& other) noexcept;
  Mapping& operator=(Mapping&& other) noexcept;
  Mapping(const Mapping&) = delete;
  Mapping& operator=(const Mapping&) = delete;

  // Maps [offset, offset+length) of `file` (offset page-aligned). With
  // `prefault` every page is faulted in now (MADV_POPULATE_*, or a touch per
  // page on older kernels): a page fault costs microseconds, so the hot path
  // must never take one.
  static StatusOr<Mapping> map(const ShmFile& file, uint64_t offset, size_t length, Access access,
                               bool prefault);

  void* data() const { return data_; }
  size_t size() const { return size_; }
  explicit operator bool() const { return data_ != nullptr; }

 private:
  void* data_ = nullptr;
  size_t size_ = 0;
};

// Names of the segments in /dev/shm whose names start with `prefix`.
std::vector<std::string> list_segments(const std::string& prefix);

}  // namespace tensoripc
