"""PoolMetadata and MetadataCreator: fields, equality, repr, pickling, and the
exceptions the API document names. No daemon needed."""

import json
import os
import pickle
import subprocess
import sys

import numpy as np
import pytest

import tensor_ipc
from conftest import torch_or_skip
from tensor_ipc import MetadataCreator, PoolMetadata


def test_import_does_not_import_torch():
    code = "import sys, tensor_ipc; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_the_package_exports_the_documented_names():
    for name in ("TensorProducer", "TensorConsumer", "PoolMetadata", "MetadataCreator"):
        assert hasattr(tensor_ipc, name)


def test_from_numpy_sample_fills_every_field():
    sample = np.random.rand(224, 224, 3).astype(np.float32)
    md = MetadataCreator.from_numpy_sample(name="image_pool", sample_data=sample, history_len=10)
    assert md.name == "image_pool"
    assert md.shape == [224, 224, 3]
    assert md.dtype_str == "float32"
    assert md.backend_type == "numpy"
    assert md.history_len == 10
    assert md.device == "cpu"
    assert md.element_size == 4
    assert md.total_size == 224 * 224 * 3 * 4 * 10
    assert md.shm_name == ""
    assert md.creator_pid == os.getpid()
    assert md.payload_json == ""


def test_history_len_defaults_to_one():
    md = MetadataCreator.from_numpy_sample("p", np.zeros(4, np.uint8))
    assert md.history_len == 1
    assert md.total_size == 4


def test_from_torch_sample():
    torch = torch_or_skip()
    md = MetadataCreator.from_torch_sample(name="torch_pool", sample_data=torch.randn(224, 224, 3),
                                           history_len=5)
    assert (md.shape, md.dtype_str, md.backend_type, md.history_len, md.device) == (
        [224, 224, 3], "float32", "torch", 5, "cpu")
    md = MetadataCreator.from_torch_sample("b", torch.zeros(2, 3, dtype=torch.bfloat16))
    assert md.dtype_str == "bfloat16" and md.element_size == 2


def test_from_sample_dispatches_on_backend():
    sample = np.zeros((5, 6), np.int16)
    md = MetadataCreator.from_sample(name="unified_pool", data=sample, history_len=5,
                                     backend="numpy")
    assert md == MetadataCreator.from_numpy_sample("unified_pool", sample, 5)
    with pytest.raises(ValueError, match="backend 'jax' is not supported"):
        MetadataCreator.from_sample("p", sample, 1, "jax")


def test_wrong_kinds_of_sample_raise_type_error():
    with pytest.raises(TypeError, match="from_numpy_sample needs a numpy.ndarray, got list"):
        MetadataCreator.from_numpy_sample("p", [1, 2, 3])
    with pytest.raises(TypeError, match="from_torch_sample needs a torch.Tensor, got numpy.ndarray"):
        MetadataCreator.from_torch_sample("p", np.zeros(3))
    with pytest.raises(TypeError, match="from_torch_cuda_sample needs a CUDA torch.Tensor"):
        MetadataCreator.from_torch_cuda_sample("p", np.zeros(3))
    with pytest.raises(TypeError, match="dtype object cannot be pooled"):
        MetadataCreator.from_numpy_sample("p", np.array([object()]))
    with pytest.raises(TypeError, match="payload_from_torch_cuda_storage needs a CUDA torch.Tensor"):
        MetadataCreator.payload_from_torch_cuda_storage(np.zeros(3))


def test_cpu_gpu_mix_ups_raise_value_error():
    torch = torch_or_skip()
    with pytest.raises(ValueError, match="needs a CUDA tensor; this one is on cpu"):
        MetadataCreator.from_torch_cuda_sample("p", torch.zeros(3))
    with pytest.raises(ValueError, match="needs a CUDA tensor; this one is on cpu"):
        MetadataCreator.payload_from_torch_cuda_storage(torch.zeros(3))
    with pytest.raises(ValueError, match="needs a CUDA tensor"):
        MetadataCreator.from_sample("p", torch.zeros(3), 1, "torch_cuda")


def test_invalid_metadata_says_why():
    with pytest.raises(ValueError, match="name"):
        MetadataCreator.from_numpy_sample("no spaces allowed", np.zeros(3))
    with pytest.raises(ValueError, match="history_len 0 is not within 1.."):
        MetadataCreator.from_numpy_sample("p", np.zeros(3), history_len=0)
    with pytest.raises(ValueError, match="history_len 1099511627776 is not within 1.."):
        MetadataCreator.from_numpy_sample("p", np.zeros(3), history_len=2**40)
    with pytest.raises(TypeError, match="history_len must be an int"):
        MetadataCreator.from_numpy_sample("p", np.zeros(3), history_len=1.5)


def test_equality_ignores_creator_pid_only():
    a = MetadataCreator.from_numpy_sample("p", np.zeros((2, 3), np.float32), 4)
    b = pickle.loads(pickle.dumps(a))
    b.creator_pid = a.creator_pid + 1
    assert a == b
    b.history_len = 5
    assert a != b
    assert a != "p"


def test_pickles_across_processes():
    md = MetadataCreator.from_numpy_sample("pickled", np.zeros((3, 4), np.uint16), 2)
    code = ("import pickle, sys; md = pickle.load(sys.stdin.buffer); "
            "print(md.name, md.shape, md.dtype_str, md.total_size)")
    out = subprocess.run([sys.executable, "-c", code], input=pickle.dumps(md),
                         capture_output=True, check=True)
    assert out.stdout.decode().split() == ["pickled", "[3,", "4]", "uint16", "48"]


def test_repr_is_readable():
    md = MetadataCreator.from_numpy_sample("cam", np.zeros((480, 640, 3), np.uint8), 4)
    text = repr(md)
    assert text.startswith("PoolMetadata(name='cam', shape=[480, 640, 3], dtype_str='uint8', ")
    assert "history_len=4" in text and "creator_pid=" in text
    md.payload_json = "x" * 500
    assert len(repr(md)) < 400


def test_constructed_by_hand_sizes_are_filled_in():
    md = PoolMetadata(name="hand", shape=(2, 3), dtype_str="torch.float64", backend_type="torch")
    assert (md.shape, md.dtype_str, md.element_size, md.total_size) == ([2, 3], "float64", 8, 48)
    # Not valid yet: kept as given; producers and consumers say what is wrong.
    bad = PoolMetadata(name="hand", shape=[2], dtype_str="nonsense", backend_type="numpy")
    assert bad.element_size == 0


def test_verify_torch_cuda_payload():
    md = MetadataCreator.from_numpy_sample("p", np.zeros(3))
    assert MetadataCreator.verify_torch_cuda_payload(md) is False
    md.payload_json = "{not json"
    assert MetadataCreator.verify_torch_cuda_payload(md) is False
    keys = ["device", "handle", "storage_size_bytes", "storage_offset_bytes",
            "ref_counter_handle", "ref_counter_offset", "event_handle", "event_sync_required"]
    md.payload_json = json.dumps({k: 0 for k in keys})
    assert MetadataCreator.verify_torch_cuda_payload(md) is True
    md.payload_json = json.dumps({k: 0 for k in keys[:-1]})
    assert MetadataCreator.verify_torch_cuda_payload(md) is False


def test_errors_derive_from_the_documented_builtins():
    e = tensor_ipc.errors
    assert issubclass(e.TopicTakenError, ValueError)
    assert issubclass(e.MetadataMismatchError, ValueError)
    assert issubclass(e.FrameMismatchError, TypeError)
    assert issubclass(e.DaemonUnavailableError, ConnectionError)
    assert issubclass(e.GpuPoolsNotSupportedError, NotImplementedError)
    for cls in (e.TopicTakenError, e.FrameMismatchError, e.DaemonUnavailableError,
                e.StateError, e.ResourceExhaustedError, e.InvalidArgumentError):
        assert issubclass(cls, tensor_ipc.Error)
