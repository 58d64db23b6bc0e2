"""What TensorProducer and TensorConsumer share: argument checks, and GPU pools
refused by a build without CUDA."""

import operator

from . import _core
from .errors import GpuPoolsNotSupportedError
from .metadata import PoolMetadata, _core_args

DEFAULT_CONNECT_TIMEOUT = 3.0  # seconds; the C++ library's default


def core_metadata_args(pool_metadata, role):
    """The metadata's fields for _core, after the checks both sides make."""
    args = _core_args(pool_metadata)
    if is_gpu_pool(pool_metadata) and not _core.built_with_cuda:
        raise GpuPoolsNotSupportedError(
            f"pool '{pool_metadata.name}' is a GPU pool (backend_type "
            f"'{pool_metadata.backend_type}', device '{pool_metadata.device}'), and this "
            "libtensoripc-client was built without the CUDA toolkit, so a "
            f"{role} cannot use it. Rebuild with the toolkit (TENSORIPC_CUDA=ON), or publish "
            "CPU tensors (MetadataCreator.from_torch_sample, backend 'torch')."
        )
    return args


def is_gpu_pool(pool_metadata):
    return pool_metadata.backend_type == "torch_cuda" or not pool_metadata.device.startswith("cpu")


def check_keep_last(keep_last):
    try:
        value = operator.index(keep_last)
    except TypeError:
        raise TypeError(f"keep_last must be an int, got {keep_last!r}") from None
    if not 1 <= value <= 2**32 - 1:
        raise ValueError(f"keep_last must be at least 1, got {value}")
    return value


def check_socket_args(socket_path, connect_timeout):
    if socket_path is None:
        socket_path = ""
    if not isinstance(socket_path, str):
        socket_path = str(socket_path)  # os.PathLike
    try:
        timeout = float(connect_timeout)
    except (TypeError, ValueError):
        raise TypeError(f"connect_timeout must be a number of seconds, got {connect_timeout!r}") \
            from None
    if not timeout > 0:
        raise ValueError(f"connect_timeout must be above 0 seconds, got {connect_timeout!r}")
    return socket_path, timeout


def granted_metadata(core):
    return PoolMetadata(**core.metadata())
