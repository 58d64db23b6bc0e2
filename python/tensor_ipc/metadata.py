"""PoolMetadata (what a pool is) and MetadataCreator (PoolMetadata from a sample).

Validation follows the C++ library's rules (tensor_ipc._core.complete_metadata),
so Python and C++ clients agree on what a valid pool is.
"""

import base64
import json
import operator
import os
from dataclasses import dataclass, fields
from typing import List

from . import _core
from ._backend import is_numpy_array, is_torch_tensor, torch_dtype_name, type_name
from .errors import InvalidArgumentError

__all__ = ["PoolMetadata", "MetadataCreator"]

# The keys payload_from_torch_cuda_storage writes and verify_torch_cuda_payload
# requires.
_CUDA_PAYLOAD_KEYS = (
    "device",
    "handle",
    "storage_size_bytes",
    "storage_offset_bytes",
    "ref_counter_handle",
    "ref_counter_offset",
    "event_handle",
    "event_sync_required",
)


@dataclass(eq=False)
class PoolMetadata:
    """Metadata for a tensor pool; can be pickled and sent across processes.

    ``name`` is the topic ([A-Za-z0-9_][A-Za-z0-9_.:-]{0,127}); ``shape`` one
    frame's shape; ``dtype_str`` numpy's name of the element type ("float32",
    "uint8", ...; "torch.float32" is accepted and stored as "float32");
    ``backend_type`` what consumers get back: "numpy", "torch" or "torch_cuda".
    ``element_size`` and ``total_size`` (all ``history_len`` frames) are filled in
    when left 0. ``shm_name`` and ``creator_pid`` are filled in by tensor-ipcd
    once a producer holds the pool; ``payload_json`` carries backend extras.

    Two metadata are equal when every field but ``creator_pid`` is.
    """

    name: str
    shape: List[int]
    dtype_str: str
    backend_type: str
    history_len: int = 1
    device: str = "cpu"
    element_size: int = 0
    total_size: int = 0
    shm_name: str = ""
    creator_pid: int = 0
    payload_json: str = ""

    def __post_init__(self):
        try:
            self.shape = [operator.index(d) for d in self.shape]
        except TypeError:
            raise TypeError(
                f"PoolMetadata.shape must be a sequence of ints, got {self.shape!r}"
            ) from None
        if self.element_size == 0 or self.total_size == 0:
            try:
                done = _complete(self)
            except (InvalidArgumentError, TypeError):
                return  # not valid (yet): producers and consumers say why
            self.dtype_str = done["dtype_str"]
            self.element_size = done["element_size"]
            self.total_size = done["total_size"]

    def __eq__(self, other):
        if not isinstance(other, PoolMetadata):
            return NotImplemented
        return all(
            getattr(self, f.name) == getattr(other, f.name)
            for f in fields(self)
            if f.name != "creator_pid"
        )

    __hash__ = None  # mutable

    def __repr__(self):
        payload = self.payload_json
        if len(payload) > 60:
            payload = payload[:57] + "..."
        return (
            f"PoolMetadata(name={self.name!r}, shape={self.shape!r}, "
            f"dtype_str={self.dtype_str!r}, backend_type={self.backend_type!r}, "
            f"history_len={self.history_len!r}, device={self.device!r}, "
            f"element_size={self.element_size!r}, total_size={self.total_size!r}, "
            f"shm_name={self.shm_name!r}, creator_pid={self.creator_pid!r}, "
            f"payload_json={payload!r})"
        )

    @property
    def frame_nbytes(self):
        """Bytes of one frame."""
        n = self.element_size
        for d in self.shape:
            n *= d
        return n


def _core_args(md):
    """The metadata's fields as _core takes them; TypeError for a wrong type."""
    if not isinstance(md, PoolMetadata):
        raise TypeError(f"expected a tensor_ipc.PoolMetadata, got {type_name(md)}")
    for attr in ("name", "dtype_str", "backend_type", "device", "payload_json"):
        value = getattr(md, attr)
        if not isinstance(value, str):
            raise TypeError(f"PoolMetadata.{attr} must be a str, got {type_name(value)}")
    try:
        shape = [operator.index(d) for d in md.shape]
        history_len = operator.index(md.history_len)
    except TypeError:
        raise TypeError(
            f"PoolMetadata.shape must be ints and history_len an int, got "
            f"{md.shape!r} and {md.history_len!r}"
        ) from None
    return (md.name, shape, md.dtype_str, md.backend_type, history_len, md.device,
            md.payload_json)


def _complete(md):
    """complete_metadata over a PoolMetadata: every field, validated and filled in."""
    return _core.complete_metadata(*_core_args(md))


def _make(name, shape, dtype_str, backend_type, history_len, device, payload_json=""):
    if not isinstance(name, str):
        raise TypeError(f"the pool name must be a str, got {type_name(name)}")
    try:
        history_len = operator.index(history_len)
    except TypeError:
        raise TypeError(f"history_len must be an int, got {type_name(history_len)}") from None
    done = _core.complete_metadata(
        name, list(shape), dtype_str, backend_type, history_len, device, payload_json
    )
    done["creator_pid"] = os.getpid()
    return PoolMetadata(**done)


def _supported_dtype(dtype_name, sample_kind):
    names = _core.dtype_names().split(", ")
    if dtype_name not in names:
        raise TypeError(
            f"a {sample_kind} of dtype {dtype_name} cannot be pooled; supported dtypes: "
            + ", ".join(names)
        )
    return dtype_name


class MetadataCreator:
    """A namespace of PoolMetadata constructors."""

    @staticmethod
    def from_numpy_sample(name, sample_data, history_len=1):
        """PoolMetadata for frames like the numpy array ``sample_data``.

        TypeError if it is not a numpy array (or of a dtype pools cannot hold).
        """
        if not is_numpy_array(sample_data):
            raise TypeError(
                f"from_numpy_sample needs a numpy.ndarray, got {type_name(sample_data)}"
            )
        dtype = _supported_dtype(sample_data.dtype.name, "numpy array")
        return _make(name, sample_data.shape, dtype, "numpy", history_len, "cpu")

    @staticmethod
    def from_torch_sample(name, sample_data, history_len=1):
        """PoolMetadata for frames like the CPU torch tensor ``sample_data``.

        TypeError if it is not a torch tensor, ValueError if it is not on the CPU.
        """
        if not is_torch_tensor(sample_data):
            raise TypeError(
                f"from_torch_sample needs a torch.Tensor, got {type_name(sample_data)}"
            )
        if sample_data.device.type != "cpu":
            raise ValueError(
                f"from_torch_sample needs a CPU tensor; this one is on {sample_data.device} "
                "(use from_torch_cuda_sample for CUDA tensors)"
            )
        dtype = _supported_dtype(torch_dtype_name(sample_data.dtype), "torch tensor")
        return _make(name, tuple(sample_data.shape), dtype, "torch", history_len, "cpu")

    @staticmethod
    def from_torch_cuda_sample(name, sample_data, history_len=1, tensor_pool=None):
        """PoolMetadata for frames like the CUDA tensor ``sample_data``.

        ``tensor_pool``, when given, is a CUDA tensor holding the pool's frames;
        its CUDA IPC handle goes into ``payload_json`` (the pool's own handles
        are brokered by tensor-ipcd; this is informational). TypeError if
        ``sample_data`` is not a torch tensor, ValueError if it is not on a CUDA
        device. Producers and consumers of such metadata raise
        GpuPoolsNotSupportedError when the library was built without CUDA.
        """
        if not is_torch_tensor(sample_data):
            raise TypeError(
                f"from_torch_cuda_sample needs a CUDA torch.Tensor, got {type_name(sample_data)}"
            )
        if sample_data.device.type != "cuda":
            raise ValueError(
                f"from_torch_cuda_sample needs a CUDA tensor; this one is on {sample_data.device} "
                "(use from_torch_sample for CPU tensors)"
            )
        index = sample_data.device.index
        if index is None:
            index = 0
        payload = ""
        if tensor_pool is not None:
            payload = MetadataCreator.payload_from_torch_cuda_storage(tensor_pool)
        dtype = _supported_dtype(torch_dtype_name(sample_data.dtype), "torch tensor")
        return _make(
            name, tuple(sample_data.shape), dtype, "torch_cuda", history_len, f"cuda:{index}",
            payload,
        )

    @staticmethod
    def from_sample(name, data, history_len, backend):
        """PoolMetadata from a sample, for ``backend`` "numpy", "torch" or "torch_cuda".

        ValueError for any other backend; the backend's own errors otherwise.
        """
        if backend == "numpy":
            return MetadataCreator.from_numpy_sample(name, data, history_len)
        if backend == "torch":
            return MetadataCreator.from_torch_sample(name, data, history_len)
        if backend == "torch_cuda":
            return MetadataCreator.from_torch_cuda_sample(name, data, history_len)
        raise ValueError(
            f"backend {backend!r} is not supported; use 'numpy', 'torch' or 'torch_cuda'"
        )

    @staticmethod
    def payload_from_torch_cuda_storage(tensor):
        """The CUDA IPC handle of ``tensor``'s storage, as a JSON string.

        Keys: device, handle, storage_size_bytes, storage_offset_bytes,
        ref_counter_handle, ref_counter_offset, event_handle, event_sync_required
        (handles base64-encoded), plus the tensor's own shape, dtype and byte
        offset in the storage.
        """
        if not is_torch_tensor(tensor):
            raise TypeError(
                f"payload_from_torch_cuda_storage needs a CUDA torch.Tensor, got {type_name(tensor)}"
            )
        if tensor.device.type != "cuda":
            raise ValueError(
                f"payload_from_torch_cuda_storage needs a CUDA tensor; this one is on {tensor.device}"
            )
        storage = tensor.untyped_storage() if hasattr(tensor, "untyped_storage") else (
            tensor.storage()._untyped()
        )
        (device, handle, size_bytes, offset_bytes, ref_counter_handle, ref_counter_offset,
         event_handle, event_sync_required) = storage._share_cuda_()

        def b64(value):
            return base64.b64encode(value).decode("ascii") if value else ""

        return json.dumps({
            "device": int(device),
            "handle": b64(handle),
            "storage_size_bytes": int(size_bytes),
            "storage_offset_bytes": int(offset_bytes),
            "ref_counter_handle": b64(ref_counter_handle),
            "ref_counter_offset": int(ref_counter_offset),
            "event_handle": b64(event_handle),
            "event_sync_required": bool(event_sync_required),
            "tensor_offset_bytes": int(tensor.storage_offset() * tensor.element_size()),
            "shape": list(tensor.shape),
            "dtype": torch_dtype_name(tensor.dtype),
        })

    @staticmethod
    def verify_torch_cuda_payload(metadata):
        """True if ``metadata.payload_json`` is JSON with every CUDA IPC key, else False."""
        try:
            payload = json.loads(metadata.payload_json)
        except (AttributeError, TypeError, ValueError):
            return False
        return isinstance(payload, dict) and all(k in payload for k in _CUDA_PAYLOAD_KEYS)


def metadata_from_sample(name, sample, history_len):
    """The metadata a from_sample constructor makes: the backend from the sample's type."""
    if is_numpy_array(sample):
        return MetadataCreator.from_numpy_sample(name, sample, history_len)
    if is_torch_tensor(sample):
        if sample.device.type == "cuda":
            return MetadataCreator.from_torch_cuda_sample(name, sample, history_len)
        return MetadataCreator.from_torch_sample(name, sample, history_len)
    raise TypeError(
        f"a sample must be a numpy.ndarray or a torch.Tensor, got {type_name(sample)}"
    )
