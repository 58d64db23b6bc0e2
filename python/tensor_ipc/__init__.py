"""tensor_ipc: zero-copy tensor sharing between processes on one machine.

The original tensor-ipc package's API over libtensoripc-client and the
tensor-ipcd daemon::

    from tensor_ipc import TensorProducer, TensorConsumer, MetadataCreator, PoolMetadata

A daemon must be running (``./scripts/run.sh``, or the systemd service);
producers and consumers find its socket as it does (``$TENSOR_IPC_SOCKET``,
``/run/tensor-ipc/tensor-ipcd.sock``, ``$XDG_RUNTIME_DIR/tensor-ipc/tensor-ipcd.sock``).
"""

from . import errors
from . import _core

_core._set_error_classes(errors)

from .consumer import ConsumerStatus, TensorConsumer  # noqa: E402
from .errors import *  # noqa: E402,F401,F403  (the exceptions, errors.__all__)
from .metadata import MetadataCreator, PoolMetadata  # noqa: E402
from .producer import TensorProducer  # noqa: E402
from .ros import ROSNode, ROSTensorConsumer, ROSTensorProducer  # noqa: E402
from . import _lifecycle  # noqa: E402,F401  (cleanup at exit)

FrameView = _core.FrameView

__version__ = _core.__version__

__all__ = [
    "TensorProducer",
    "TensorConsumer",
    "PoolMetadata",
    "MetadataCreator",
    "FrameView",
    "ConsumerStatus",
    "ROSNode",
    "ROSTensorProducer",
    "ROSTensorConsumer",
] + errors.__all__
