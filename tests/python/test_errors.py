"""Every exception the API document names, raised with a message a person can
act on; nothing aborts the interpreter."""

import os
import signal

import numpy as np
import pytest

from conftest import helper, torch_or_skip
from tensor_ipc import (DaemonUnavailableError, FrameMismatchError, 
                        InvalidArgumentError, MetadataCreator, MetadataMismatchError,
                        PoolMetadata, StateError, TensorConsumer, TensorProducer,
                        TopicTakenError)


def test_second_producer_is_refused_with_the_holders_pid(daemon, pool_name, procs):
    p = procs(helper("producer") + ["--name", pool_name, "--frames", "1", "--hold"],
              env=daemon.env())
    holder = int(p.wait_for("READY").split()[1])
    with pytest.raises(ValueError) as info:
        TensorProducer.from_sample(pool_name, np.zeros(4096, np.uint8), history_len=4)
    assert isinstance(info.value, TopicTakenError)
    assert info.value.holder_pid == holder
    assert f"pid {holder}" in str(info.value) and pool_name in str(info.value)
    # Once the holder is gone the topic is free.
    p.signal(signal.SIGKILL)
    p.wait()
    TensorProducer.from_sample(pool_name, np.zeros(4096, np.uint8), history_len=4).cleanup()


def test_second_producer_in_the_same_process(daemon, pool_name):
    frame = np.zeros(8, np.uint8)
    first = TensorProducer.from_sample(pool_name, frame)
    with pytest.raises(ValueError, match=f"pid {os.getpid()}"):
        TensorProducer.from_sample(pool_name, frame)
    first.put(frame)  # the first one is unharmed


def test_put_of_the_wrong_backend_dtype_or_shape_is_a_type_error(daemon, pool_name):
    torch = torch_or_skip()
    frame = np.zeros((4, 4), np.float32)
    producer = TensorProducer.from_sample(pool_name, frame, history_len=2)
    consumer = TensorConsumer.from_sample(pool_name, frame, history_len=2)
    cases = [
        (torch.zeros(4, 4), "backend_type is 'numpy', so put\\(\\) takes a numpy.ndarray, "
                            "not a torch.Tensor"),
        ([[0.0] * 4] * 4, "not a list"),
        (np.zeros((4, 4), np.float64), "frame dtype is float64, the pool holds float32"),
        (np.zeros((4, 5), np.float32), "frame shape is \\[4, 5\\], the pool's frames are \\[4, 4\\]"),
        (np.zeros(16, np.float32), "frame shape is \\[16\\]"),
        (np.zeros((4, 4), ">f4"), "big-endian"),
        (np.array([[object()] * 4] * 4), "dtype object is not supported"),
        (np.zeros((4, 4), "datetime64[s]"), "is not supported"),
    ]
    for data, message in cases:
        with pytest.raises(TypeError, match=message) as info:
            producer.put(data)
        assert isinstance(info.value, FrameMismatchError)
        assert pool_name in str(info.value)
    assert consumer.get() is None  # nothing was written

    tproducer = TensorProducer.from_sample(pool_name + "_t", torch.zeros(3))
    with pytest.raises(TypeError, match="takes a torch.Tensor, not a numpy.ndarray"):
        tproducer.put(np.zeros(3, np.float32))
    with pytest.raises(TypeError, match="frame dtype is int64, the pool holds float32"):
        tproducer.put(torch.zeros(3, dtype=torch.int64))


def test_daemon_unreachable_is_a_connection_error_naming_the_socket(tmp_path, monkeypatch):
    sock = str(tmp_path / "nobody-here.sock")
    monkeypatch.setenv("TENSOR_IPC_SOCKET", sock)
    md = MetadataCreator.from_numpy_sample("p", np.zeros(4))
    for make in (lambda: TensorProducer(md, connect_timeout=0.2),
                 lambda: TensorConsumer(md, connect_timeout=0.2)):
        with pytest.raises(ConnectionError) as info:
            make()
        assert isinstance(info.value, DaemonUnavailableError)
        assert info.value.socket_path == sock
        text = str(info.value)
        assert sock in text and "tensor-ipcd" in text and "TENSOR_IPC_SOCKET" in text
    # socket_path= wins over the environment.
    with pytest.raises(ConnectionError, match="elsewhere.sock"):
        TensorProducer(md, socket_path=str(tmp_path / "elsewhere.sock"), connect_timeout=0.2)


def test_consumer_of_a_pool_with_another_shape(daemon, pool_name):
    TensorProducer.from_sample(pool_name, np.zeros((4, 4), np.float32), history_len=2)
    with pytest.raises(ValueError) as info:
        TensorConsumer.from_sample(pool_name, np.zeros((4, 5), np.float32), history_len=2)
    assert isinstance(info.value, MetadataMismatchError)
    assert "[4, 5]" in str(info.value) and "[4, 4]" in str(info.value)


def test_bad_arguments_are_value_errors(daemon, pool_name):
    frame = np.zeros(8, np.uint8)
    producer = TensorProducer.from_sample(pool_name, frame, history_len=3)
    consumer = TensorConsumer.from_sample(pool_name, frame, history_len=3)
    producer.put(frame)
    with pytest.raises(ValueError, match="history_len 4 is not within 1..3"):
        consumer.get(history_len=4)
    with pytest.raises(ValueError, match="history_len 0 must be at least 1"):
        consumer.get(history_len=0)
    with pytest.raises(ValueError, match="history_len -2 must be at least 1"):
        consumer.get(history_len=-2)
    with pytest.raises(TypeError, match="history_len must be an int"):
        consumer.get(history_len=1.0)
    with pytest.raises(ValueError, match="keep_last"):
        TensorConsumer.from_sample(pool_name, frame, history_len=3, keep_last=0)
    with pytest.raises(TypeError, match="callable"):
        TensorConsumer.from_sample(pool_name, frame, history_len=3, callback=42)
    with pytest.raises(ValueError, match="notify"):
        TensorConsumer.from_sample(pool_name, frame, history_len=3, notify="carrier pigeon")
    with pytest.raises(TypeError, match="PoolMetadata"):
        TensorProducer({"name": pool_name})
    bad = PoolMetadata(name=pool_name + "x", shape=[2], dtype_str="nonsense", backend_type="numpy")
    with pytest.raises(InvalidArgumentError, match="dtype_str 'nonsense'"):
        TensorProducer(bad)
    bad = PoolMetadata(name="a b", shape=[2], dtype_str="uint8", backend_type="numpy")
    with pytest.raises(ValueError, match="name"):
        TensorConsumer(bad)
    bad = PoolMetadata(name=pool_name + "y", shape=[2], dtype_str="uint8", backend_type="jax")
    with pytest.raises(ValueError, match="backend_type"):
        TensorProducer(bad)


def test_use_after_cleanup_is_a_state_error(daemon, pool_name):
    frame = np.zeros(8, np.uint8)
    producer = TensorProducer.from_sample(pool_name, frame)
    consumer = TensorConsumer.from_sample(pool_name, frame)
    producer.put(frame)
    producer.cleanup()
    consumer.cleanup()
    with pytest.raises(RuntimeError, match="after cleanup") as info:
        producer.put(frame)
    assert isinstance(info.value, StateError)
    for call in (consumer.get, consumer.view, lambda: consumer.wait_for_frame(0.1)):
        with pytest.raises(StateError, match=f"pool '{pool_name}' after cleanup"):
            call()


def test_pool_too_large_for_the_daemon(daemon, pool_name):
    with pytest.raises(RuntimeError, match="4G|max-pool-bytes|limit|large") as info:
        TensorProducer(PoolMetadata(name=pool_name, shape=[1 << 20, 1024], dtype_str="float64",
                                    backend_type="numpy", history_len=2))
    assert type(info.value).__name__ == "ResourceExhaustedError"


def test_from_torch_cuda_sample_works(daemon, pool_name):
    """No GPU here: a CPU tensor that reports a CUDA device stands in for one."""
    torch = torch_or_skip()

    class LooksLikeCuda(torch.Tensor):
        @property
        def device(self):
            return torch.device("cuda", 1)

    sample = torch.zeros(4, 5, dtype=torch.float16).as_subclass(LooksLikeCuda)
    md = MetadataCreator.from_torch_cuda_sample(name=pool_name, sample_data=sample, history_len=3)
    assert (md.backend_type, md.device, md.shape, md.dtype_str, md.history_len) == (
        "torch_cuda", "cuda:1", [4, 5], "float16", 3)
    assert md.total_size == 4 * 5 * 2 * 3 and md.payload_json == ""
    assert MetadataCreator.from_sample(pool_name, sample, 3, "torch_cuda") == md
