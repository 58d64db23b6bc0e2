"""What TensorProducer and TensorConsumer share: argument checks and the
refusal of GPU pools."""

import operator

from .errors import GpuPoolsNotSupportedError
from .metadata import PoolMetadata, _core_args

DEFAULT_CONNECT_TIMEOUT = 3.0  # seconds; the C++ library's default


def core_metadata_args(pool_metadata, role):
    """The metadata's fields for _core, after the checks both sides make."""
    args = _core_args(pool_metadata)
    if pool_metadata.backend_type == "torch_cuda" or not pool_metadata.device.startswith("cpu"):
        raise GpuPoolsNotSupportedError(
            f"pool '{pool_metadata.name}' is a GPU pool (backend_type "
            f"'{pool_metadata.backend_type}', device '{pool_metadata.device}'): GPU pools are "
            f"not in the Python bindings yet (the C++ library serves them), so a {role} cannot "
            "use it from Python. Publish CPU tensors (MetadataCreator.from_torch_sample, backend "
            "'torch') instead."
        )
    return args


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
