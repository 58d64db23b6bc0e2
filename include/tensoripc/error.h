// The exceptions libtensoripc-client throws. Every one derives from
// tensoripc::Error, and its what() says what went wrong in words a person can
// act on: which pool, what was expected, what came, what to run.
//
// Value types; thread-compatible.
#pragma once

#include <stdexcept>
#include <string>
#include <utility>

#include "tensoripc/export.h"

namespace tensoripc {

// Base of everything the library throws.
class TENSORIPC_EXPORT Error : public std::runtime_error {
 public:
  explicit Error(const std::string& message) : std::runtime_error(message) {}
  ~Error() override;
};

// Another live producer holds the topic: one producer per topic at a time.
class TENSORIPC_EXPORT TopicTakenError : public Error {
 public:
  TopicTakenError(const std::string& message, std::string topic, int holder_pid)
      : Error(message), topic_(std::move(topic)), holder_pid_(holder_pid) {}
  ~TopicTakenError() override;
  const std::string& topic() const { return topic_; }
  // Pid of the producer holding the topic; 0 when the daemon did not say.
  int holder_pid() const { return holder_pid_; }

 private:
  std::string topic_;
  int holder_pid_;
};

// The pool exists with another identity (name, shape, dtype, history_len,
// device) than this client expected; the message names expected and actual.
class TENSORIPC_EXPORT MetadataMismatchError : public Error {
 public:
  using Error::Error;
  ~MetadataMismatchError() override;
};

// tensor-ipcd could not be reached; the message names the socket path tried
// and how to start the daemon or point TENSOR_IPC_SOCKET elsewhere.
class TENSORIPC_EXPORT DaemonUnavailableError : public Error {
 public:
  DaemonUnavailableError(const std::string& message, std::string socket_path)
      : Error(message), socket_path_(std::move(socket_path)) {}
  ~DaemonUnavailableError() override;
  const std::string& socket_path() const { return socket_path_; }

 private:
  std::string socket_path_;
};

// Bad input: a frame of the wrong dtype, shape or memory kind for its pool
// (nothing is written), invalid metadata, an unsupported DLPack tensor.
// No pool of that name (Consumer::attach).
class TENSORIPC_EXPORT PoolNotFoundError : public Error {
 public:
  PoolNotFoundError(const std::string& message, std::string pool)
      : Error(message), pool_(std::move(pool)) {}
  ~PoolNotFoundError() override;
  const std::string& pool() const { return pool_; }

 private:
  std::string pool_;
};

class TENSORIPC_EXPORT InvalidArgumentError : public Error {
 public:
  using Error::Error;
  ~InvalidArgumentError() override;
};

// A limit was hit: the daemon's pool size or count limit, or no memory left for a pool.
class TENSORIPC_EXPORT ResourceExhaustedError : public Error {
 public:
  using Error::Error;
  ~ResourceExhaustedError() override;
};

// The object can no longer do what was asked: used after cleanup(), a
// producer whose topic was taken over while it was disconnected, a consumer
// whose pool changed identity under it.
class TENSORIPC_EXPORT StateError : public Error {
 public:
  using Error::Error;
  ~StateError() override;
};

}  // namespace tensoripc
