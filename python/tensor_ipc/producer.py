"""TensorProducer: publishes frames into a pool."""

from . import _core, _lifecycle
from ._backend import is_numpy_array, is_torch_tensor, torch_module, type_name
from ._common import (DEFAULT_CONNECT_TIMEOUT, check_keep_last, check_socket_args,
                      core_metadata_args, granted_metadata, is_gpu_pool)
from .errors import FrameMismatchError
from .metadata import metadata_from_sample

__all__ = ["TensorProducer"]


class TensorProducer:
    """Writes tensors into a shared pool; consumers are told of every frame.

    Holds the pool's topic from tensor-ipcd for its whole life: one producer per
    topic at a time (a second one gets ValueError naming the holder's pid).
    ``put()`` copies the frame once, straight into the pool's shared memory (a
    ``torch_cuda`` pool's frames are in GPU memory: one copy on the GPU).
    Thread-safe: ``put()`` may be called from any thread (calls are serialised).
    ``cleanup()`` ends the lease; it runs on garbage collection and at
    interpreter exit too. Usable as a context manager.

    ``dds_participant`` is accepted for compatibility and unused: notifications
    come from tensor-ipcd. ``keep_last`` is accepted (and checked) for the same
    reason and bounds nothing: a producer sends the daemon nothing per frame,
    and each consumer sets its own ``keep_last``. Keyword-only extras: ``socket_path`` (default: as the daemon,
    ``$TENSOR_IPC_SOCKET`` or the default socket) and ``connect_timeout`` (s).

    Raises ValueError (TopicTakenError) if another producer holds the topic,
    ConnectionError (DaemonUnavailableError) if tensor-ipcd cannot be reached.
    """

    def __init__(self, pool_metadata, dds_participant=None, keep_last=10, *,
                 socket_path=None, connect_timeout=DEFAULT_CONNECT_TIMEOUT):
        self._core = None
        _lifecycle.check_not_forked("producer")
        args = core_metadata_args(pool_metadata, "producer")
        keep_last = check_keep_last(keep_last)
        socket_path, connect_timeout = check_socket_args(socket_path, connect_timeout)
        self._name = pool_metadata.name
        self._backend = pool_metadata.backend_type
        self._is_torch = self._backend in ("torch", "torch_cuda")
        self._gpu = is_gpu_pool(pool_metadata)
        self._device = pool_metadata.device
        self.dds_participant = dds_participant
        self.keep_last = keep_last
        self._core = _core.Producer(*args, keep_last, socket_path, connect_timeout)
        self._metadata = granted_metadata(self._core)
        _lifecycle.track(self)

    @classmethod
    def from_sample(cls, pool_name, sample, history_len=1, dds_participant=None, keep_last=10,
                    *, socket_path=None, connect_timeout=DEFAULT_CONNECT_TIMEOUT):
        """A producer, and its pool, for frames like ``sample`` (numpy array or torch tensor)."""
        metadata = metadata_from_sample(pool_name, sample, history_len)
        return cls(metadata, dds_participant=dds_participant, keep_last=keep_last,
                   socket_path=socket_path, connect_timeout=connect_timeout)

    def put(self, data, *args, **kwargs):
        """Copies ``data`` into the next slot of the pool and returns its frame index.

        ``data`` must be of the pool's backend (a numpy array for "numpy", a torch
        tensor for "torch" and "torch_cuda"), dtype and shape, else TypeError
        (FrameMismatchError) and nothing is written. A non-contiguous array is made
        contiguous first (one more copy). Extra arguments are accepted for ROS
        compatibility and ignored. The GIL is released during the copy.

        A "torch_cuda" pool takes a CUDA tensor on the pool's GPU (one device-to-device
        copy) or a CPU tensor (one host-to-device copy). The copy is queued on torch's
        current stream of that GPU, after whatever made the tensor, and put() returns
        without waiting for it: consumers wait for it on the GPU. Work queued on that
        stream later (freeing or overwriting ``data``) comes after the copy, as in torch.
        """
        if self._is_torch:
            if not is_torch_tensor(data):
                raise FrameMismatchError(
                    f"put on pool '{self._name}': the pool's backend_type is "
                    f"'{self._backend}', so put() takes a torch.Tensor, not a "
                    f"{type_name(data)}; nothing was written"
                )
            if self._gpu and data.device.type == "cuda":
                if str(data.device) != self._device:
                    raise FrameMismatchError(
                        f"put on pool '{self._name}': the pool is on {self._device}, the tensor "
                        f"on {data.device}; move it there first (tensor.to('{self._device}')); "
                        "nothing was written"
                    )
                stream = torch_module().cuda.current_stream(data.device).cuda_stream
                return self._core.put(data, True, stream)[0]
        elif not is_numpy_array(data):
            raise FrameMismatchError(
                f"put on pool '{self._name}': the pool's backend_type is '{self._backend}', so "
                f"put() takes a numpy.ndarray, not a {type_name(data)}; nothing was written"
            )
        return self._core.put(data, self._is_torch)[0]

    @property
    def metadata(self):
        """The pool's metadata as granted by tensor-ipcd (shm_name, creator_pid filled in)."""
        return self._metadata

    @property
    def pool_metadata(self):
        return self._metadata

    @property
    def latest_seq(self):
        """Sequence number of the newest frame in the pool (0: none yet)."""
        return self._core.latest_seq

    @property
    def connected(self):
        """Whether the session with tensor-ipcd is up (False while it reconnects)."""
        return self._core is not None and self._core.connected

    @property
    def closed(self):
        return self._core is None or self._core.closed

    def cleanup(self):
        """Ends the lease and unmaps the pool. Idempotent; put() afterwards raises."""
        if self._core is not None:
            self._core.cleanup()

    def _abandon_after_fork(self):
        if self._core is not None:
            self._core._abandon_after_fork()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.cleanup()

    def __del__(self):
        core = getattr(self, "_core", None)
        if core is not None:
            core.cleanup()

    def __repr__(self):
        state = "closed" if self.closed else "open"
        return f"<TensorProducer {self._name!r} {state}>"
