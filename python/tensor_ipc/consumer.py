"""TensorConsumer: reads frames of a pool, and is told of new ones."""

import operator
from collections import namedtuple

from . import _core, _lifecycle
from ._common import (DEFAULT_CONNECT_TIMEOUT, check_keep_last, check_socket_args,
                      core_metadata_args, granted_metadata, is_gpu_pool)
from .errors import InvalidArgumentError, PoolNotFoundError
from .metadata import PoolMetadata, metadata_from_sample

__all__ = ["TensorConsumer", "ConsumerStatus"]

ConsumerStatus = namedtuple(
    "ConsumerStatus",
    "state producer_pid latest_seq dropped skipped delivered callback_errors connected error",
)
ConsumerStatus.__doc__ = """Where a consumer stands with its pool.

state: "waiting_for_producer", "live", "producer_gone", "removed", "error" or
"closed". producer_pid: the producer holding the pool (0: none). latest_seq: the
newest frame's sequence number. dropped: frames lost because tensor-ipcd dropped
their events (this consumer's keep_last queue was full) and the ring no longer held
them when the consumer looked (a gap in the events is filled from the ring). skipped: frames the callback was told of
but never got (overwritten first). delivered: callback calls made;
callback_errors: those that raised. connected: the Subscribe stream is up.
error: for state "error", what changed."""


class TensorConsumer:
    """Reads tensors from a shared pool, and calls a callback for every new frame.

    May start before the pool's producer: ``get()`` returns None until the
    producer publishes, and the consumer attaches on its own when it does (and
    again after a producer restart). Reads never wait on the producer or the
    daemon. Thread-safe: any thread may call any method.

    ``on_new_data_callback(data)`` gets each new frame, as ``get()`` would return
    it, on the library's notification thread; it holds the GIL only while it
    runs. An exception it raises goes to ``sys.unraisablehook`` (printed to stderr
    by default) and later frames are still delivered. The callback must be quick
    or the frames it falls behind on are skipped (``status().skipped``).

    ``dds_participant`` is accepted for compatibility and unused. ``keep_last``
    bounds the frame events tensor-ipcd queues for this consumer. Keyword-only
    extras: ``socket_path``, ``connect_timeout`` (s), and ``notify``: "stream"
    (default; events through tensor-ipcd) or "futex" (the callback is woken
    straight from shared memory: lowest latency).

    Raises ValueError (MetadataMismatchError) if the pool exists with another
    shape, dtype or history_len; ConnectionError (DaemonUnavailableError) if
    tensor-ipcd cannot be reached. ``cleanup()`` runs on garbage collection and
    at interpreter exit too. Usable as a context manager.
    """

    def __init__(self, pool_metadata, keep_last=10, dds_participant=None,
                 on_new_data_callback=None, *, socket_path=None,
                 connect_timeout=DEFAULT_CONNECT_TIMEOUT, notify="stream"):
        self._core = None
        _lifecycle.check_not_forked("consumer")
        args = core_metadata_args(pool_metadata, "consumer")
        keep_last = check_keep_last(keep_last)
        socket_path, connect_timeout = check_socket_args(socket_path, connect_timeout)
        if on_new_data_callback is not None and not callable(on_new_data_callback):
            raise TypeError(
                f"on_new_data_callback must be callable, got {on_new_data_callback!r}"
            )
        if notify not in ("stream", "futex"):
            raise ValueError(f"notify must be 'stream' or 'futex', got {notify!r}")
        self._name = pool_metadata.name
        self._pool_metadata = pool_metadata
        self._gpu = is_gpu_pool(pool_metadata)
        self.dds_participant = dds_participant
        self.keep_last = keep_last
        # Held here, where the garbage collector sees it (the C++ side only
        # borrows it until cleanup()).
        self._callback = on_new_data_callback
        self._core = _core.Consumer(*args, keep_last, socket_path, connect_timeout, notify,
                                    on_new_data_callback)
        _lifecycle.track(self)

    @classmethod
    def from_sample(cls, pool_name, sample, dds_participant=None, history_len=1, keep_last=10,
                    callback=None, *, socket_path=None, connect_timeout=DEFAULT_CONNECT_TIMEOUT,
                    notify="stream"):
        """A consumer of frames like ``sample`` (numpy array or torch tensor)."""
        metadata = metadata_from_sample(pool_name, sample, history_len)
        return cls(metadata, keep_last=keep_last, dds_participant=dds_participant,
                   on_new_data_callback=callback, socket_path=socket_path,
                   connect_timeout=connect_timeout, notify=notify)

    @classmethod
    def attach(cls, pool_name, history_len=None, keep_last=10, callback=None, *,
               socket_path=None, connect_timeout=DEFAULT_CONNECT_TIMEOUT, notify="stream"):
        """A consumer of the pool ``pool_name`` as it is, its shape, dtype, backend and
        device taken from tensor-ipcd: no sample or metadata to repeat.

        ``history_len``: the frames this consumer reads at most (None: all the pool
        keeps; more is a MetadataMismatchError). Raises PoolNotFoundError (a
        LookupError) when the daemon has no pool of that name, ConnectionError
        (DaemonUnavailableError) when it cannot be reached.
        """
        path, timeout = check_socket_args(socket_path, connect_timeout)
        found = _core.pool_metadata(str(pool_name), path, timeout)
        if found is None:
            err = PoolNotFoundError(
                f"tensor-ipcd has no pool named {pool_name!r} (no producer has claimed it, "
                "or it was removed)")
            err.pool_name = pool_name
            raise err
        metadata = PoolMetadata(name=found["name"], shape=found["shape"],
                                dtype_str=found["dtype_str"],
                                backend_type=found["backend_type"],
                                history_len=found["history_len"] if history_len is None
                                else history_len,
                                device=found["device"])
        return cls(metadata, keep_last=keep_last, on_new_data_callback=callback,
                   socket_path=socket_path, connect_timeout=connect_timeout, notify=notify)

    def get(self, history_len=1, as_numpy=False, latest_first=True):
        """The latest frames as a new array (one copy), or None before any frame.

        ``history_len`` 1 gives the frame itself; k > 1 gives shape (k, *frame
        shape), latest first unless ``latest_first`` is False: a consistent snapshot
        of k consecutive frames (frames never written read as zeros). The array is
        the pool's backend type (numpy.ndarray or torch.Tensor), numpy with
        ``as_numpy=True``, and is the caller's to keep and modify. ValueError if
        history_len is not within 1..the pool's history_len.

        A "torch_cuda" pool's frames come as a CUDA tensor on the pool's GPU (one
        device-to-device copy, on torch's current stream, complete on return), or
        with ``as_numpy=True`` as a numpy array in host memory.
        """
        try:
            k = operator.index(history_len)
        except TypeError:
            raise TypeError(f"history_len must be an int, got {history_len!r}") from None
        if self._gpu and not as_numpy:
            return self._get_on_gpu(k, bool(latest_first))
        return self._core.get(k, bool(latest_first), bool(as_numpy))

    def _get_on_gpu(self, k, latest_first):
        md = self._pool_metadata
        if not 1 <= k <= md.history_len:
            raise InvalidArgumentError(
                f"get on pool '{self._name}': history_len {k} is not within "
                f"1..{md.history_len} (the pool's history_len)")
        device = self._core.device()
        if device is None:
            return None  # not attached, or its producer left: nothing to read
        import torch  # a torch_cuda pool's consumer is a torch program

        dtype = getattr(torch, md.dtype_str, None)
        if dtype is None:
            raise TypeError(f"pool '{self._name}' holds {md.dtype_str}, which this torch "
                            f"({torch.__version__}) has no dtype for; use get(as_numpy=True)")
        shape = tuple(md.shape) if k == 1 else (k, *md.shape)
        out = torch.empty(shape, dtype=dtype, device=device)
        stream = torch.cuda.current_stream(out.device).cuda_stream
        if self._core.read_into(out.data_ptr(), out.numel() * out.element_size(), k,
                                latest_first, stream) == 0:
            return None
        return out

    def view(self):
        """The latest frame without a copy (a FrameView), or None before any frame.

        ``view.numpy()`` is a read-only numpy array over the shared memory,
        ``view.torch()`` (or ``torch.from_dlpack(view)``) a torch tensor over it;
        ``view.seq`` and ``view.timestamp_ns`` say which frame it is. The data is
        that frame only until the producer wraps round the ring: check
        ``view.still_valid()`` after reading it.

        A "torch_cuda" pool's view is GPU memory (``view.device`` is "cuda:N"):
        ``view.torch()`` gives a CUDA tensor, ordered after the frame's write on
        torch's current stream; ``numpy()`` refuses it. The memory is the producer's
        and goes with it.
        """
        return self._core.view()

    def wait_for_frame(self, timeout=None):
        """Blocks (GIL released; Ctrl-C works) until a frame newer than the newest this
        consumer has read is there, or ``timeout`` seconds pass (None: no limit).
        Returns whether there is one. Needs no daemon round trip."""
        return self._core.wait_for_frame(None if timeout is None else float(timeout))

    def status(self):
        """A ConsumerStatus: state, producer pid, frame counters."""
        return ConsumerStatus(**self._core.status())

    @property
    def metadata(self):
        """The pool's metadata once attached (shm_name, creator_pid filled in), else the
        metadata this consumer expects."""
        if self.closed:
            return self._pool_metadata
        return granted_metadata(self._core)

    @property
    def closed(self):
        return self._core is None or self._core.closed

    def cleanup(self):
        """Stops callbacks, unsubscribes and unmaps. Idempotent; may be called from any
        thread, including from the callback itself. Reads afterwards raise StateError."""
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
        state = "closed" if self.closed else self._core.status()["state"]
        return f"<TensorConsumer {self._name!r} {state}>"
