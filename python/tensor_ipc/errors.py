"""The exceptions tensor_ipc raises.

Each derives from :class:`Error` (catch that for "anything tensor-ipc raised") and
from the built-in exception the original package's API names, so code written
for it keeps working::

    Error
    +-- TopicTakenError(ValueError)          another producer holds the topic (.holder_pid)
    +-- MetadataMismatchError(ValueError)    the pool exists with another shape/dtype/...
    +-- InvalidArgumentError(ValueError)     a bad argument or metadata
    +-- FrameMismatchError(TypeError)        put() of the wrong backend, dtype or shape
    +-- DaemonUnavailableError(ConnectionError)  tensor-ipcd not reachable (.socket_path)
    +-- ResourceExhaustedError(RuntimeError) a daemon limit, or out of memory for a pool
    +-- StateError(RuntimeError)             used after cleanup(); pool changed identity
    +-- GpuPoolsNotSupportedError(NotImplementedError)  a GPU pool, in a build without CUDA

The messages are the C++ library's: which pool, what was expected, what came,
and what to run.
"""

__all__ = [
    "Error",
    "TopicTakenError",
    "MetadataMismatchError",
    "InvalidArgumentError",
    "FrameMismatchError",
    "DaemonUnavailableError",
    "PoolNotFoundError",
    "ResourceExhaustedError",
    "StateError",
    "GpuPoolsNotSupportedError",
]


class Error(Exception):
    """Base of every exception tensor_ipc raises."""


class TopicTakenError(Error, ValueError):
    """The topic is already published by another live producer.

    ``holder_pid`` is that producer's process id (0 when the daemon did not say),
    ``topic`` the pool name.
    """

    topic = ""
    holder_pid = 0


class MetadataMismatchError(Error, ValueError):
    """The pool exists with another identity (shape, dtype, history_len, device)."""


class InvalidArgumentError(Error, ValueError):
    """An argument or a pool's metadata is not valid; the message says why."""


class FrameMismatchError(Error, TypeError):
    """put() got data of the wrong backend, dtype, shape or device; nothing was written."""


class DaemonUnavailableError(Error, ConnectionError):
    """tensor-ipcd could not be reached.

    ``socket_path`` is the socket tried; the message says how to start the daemon
    or point ``TENSOR_IPC_SOCKET`` at it.
    """

    socket_path = ""


class PoolNotFoundError(Error, LookupError):
    """``TensorConsumer.attach`` of a name tensor-ipcd has no pool of (no producer
    has claimed it, or it was removed). ``pool_name`` is the name asked for."""

    pool_name = ""


class ResourceExhaustedError(Error, RuntimeError):
    """A limit was hit: the daemon's pool size or count limit, or no memory left for a pool."""


class StateError(Error, RuntimeError):
    """The object can no longer do this: used after cleanup(), or the pool changed identity."""


class GpuPoolsNotSupportedError(Error, NotImplementedError):
    """A torch_cuda (GPU) pool was used, and libtensoripc-client was built without the
    CUDA toolkit. (With the toolkit but no usable GPU, the error is Error, with CUDA's
    text.)"""
