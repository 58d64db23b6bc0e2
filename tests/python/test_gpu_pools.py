"""torch_cuda (GPU) pools from Python.

Most tests here run on the host double (TENSORIPC_CUDA_BACKEND=host-double, as
tests/client/device_pool_test.cc does for C++): "device memory" is host shared
memory, so the bindings' GPU paths (put of a tensor into a GPU pool, read_into,
the view's DLPack device, the producer's death) are checked across processes
on a machine without a GPU. Debian's torch has no CUDA, so tensors that live on
a GPU appear only in the last test, which runs where torch sees a GPU and is
skipped elsewhere.
"""

import os
import signal
import sys

import numpy as np
import pytest

import frame_pattern
from conftest import TEST_CONSUMER, TEST_PRODUCER, torch_or_skip, wait_until
from tensor_ipc import (Error, FrameMismatchError, GpuPoolsNotSupportedError, InvalidArgumentError,
                        MetadataCreator, PoolMetadata, TensorConsumer, TensorProducer, _core)

BYTES = 65536
HISTORY = 4


def gpu_metadata(name, history_len=HISTORY):
    return PoolMetadata(name=name, shape=[BYTES], dtype_str="uint8", backend_type="torch_cuda",
                        history_len=history_len, device="cuda:0")


def parse_result(line):
    return {k: int(v) for k, v in (w.split("=") for w in line.split()[1:])}


@pytest.fixture
def host_double(monkeypatch):
    if not _core.built_with_cuda:
        pytest.skip("this build has no CUDA support, so no GPU pools (the host double included)")
    monkeypatch.setenv("TENSORIPC_CUDA_BACKEND", "host-double")


def test_a_build_without_cuda_refuses_gpu_pools_with_the_reason(daemon, pool_name, monkeypatch):
    # In a build with CUDA, the flag the package reads stands in for one without.
    if _core.built_with_cuda:
        monkeypatch.setattr(_core, "built_with_cuda", False)
    for make in (TensorProducer, TensorConsumer):
        with pytest.raises(NotImplementedError, match="built without the CUDA toolkit") as info:
            make(gpu_metadata(pool_name))
        assert isinstance(info.value, GpuPoolsNotSupportedError)


def test_without_a_gpu_the_error_is_cudas(daemon, pool_name, monkeypatch):
    if not _core.built_with_cuda:
        pytest.skip("this build has no CUDA support")
    monkeypatch.delenv("TENSORIPC_CUDA_BACKEND", raising=False)
    try:
        producer = TensorProducer(gpu_metadata(pool_name))
    except GpuPoolsNotSupportedError:
        pytest.fail("a build with CUDA must not say it has none")
    except Error as e:
        assert f"pool '{pool_name}' is on cuda:0, and no GPU is usable here" in str(e)
    else:
        producer.cleanup()
        pytest.skip("a GPU is usable here")


def test_python_producer_of_cpu_tensors_into_a_gpu_pool(daemon, pool_name, procs, host_double):
    """A host-to-device copy per put, checked by the C++ consumer reading the device frames."""
    torch = torch_or_skip()
    consumer = procs([TEST_CONSUMER, "--name", pool_name, "--bytes", str(BYTES), "--history",
                      str(HISTORY), "--device", "cuda:0", "--mode", "stream", "--keep-last",
                      "256", "--print-frames"], env=daemon.env())
    consumer.wait_for("READY")
    producer = TensorProducer(gpu_metadata(pool_name))
    assert producer.metadata.device == "cuda:0"
    assert producer.metadata.backend_type == "torch_cuda"
    frame = np.zeros(BYTES, np.uint8)
    for seq in range(1, 51):
        producer.put(torch.from_numpy(frame_pattern.fill(frame, seq)))
    consumer.wait_for("FRAME")
    while int(consumer.wait_for("FRAME").split()[2]) != 50:
        pass
    consumer.signal(signal.SIGTERM)
    r = parse_result(consumer.wait_for("RESULT"))
    assert consumer.wait() == 0
    assert r["torn"] == 0 and r["zero"] == 0 and r["order_errors"] == 0
    assert r["last_seq"] == 50 and r["frames"] == r["intact"] > 0
    producer.cleanup()


def test_put_refuses_what_a_gpu_pool_cannot_take(daemon, pool_name, host_double):
    torch = torch_or_skip()
    producer = TensorProducer(gpu_metadata(pool_name))

    class OnAnotherGpu(torch.Tensor):  # no GPU here: a CPU tensor reporting cuda:1
        @property
        def device(self):
            return torch.device("cuda", 1)

    with pytest.raises(FrameMismatchError, match="the pool is on cuda:0, the tensor on cuda:1"):
        producer.put(torch.zeros(BYTES, dtype=torch.uint8).as_subclass(OnAnotherGpu))
    with pytest.raises(FrameMismatchError, match="takes a torch.Tensor, not a numpy.ndarray"):
        producer.put(np.zeros(BYTES, np.uint8))
    with pytest.raises(FrameMismatchError):
        producer.put(torch.zeros(BYTES, dtype=torch.float32))
    assert producer.latest_seq == 0  # nothing was written
    producer.cleanup()


def test_python_consumer_of_the_cpp_gpu_producer(daemon, pool_name, procs, host_double):
    consumer = TensorConsumer(gpu_metadata(pool_name))
    assert consumer.get(as_numpy=True) is None
    producer = procs([TEST_PRODUCER, "--name", pool_name, "--bytes", str(BYTES), "--history",
                      str(HISTORY), "--device", "cuda:0", "--frames", "20", "--hold"],
                     env=daemon.env())
    producer.wait_for("READY")
    assert int(producer.wait_for("DONE").split()[1]) == 20
    wait_until(lambda: consumer.status().latest_seq == 20, what="the last frame")

    # This process's GPU with the pool's UUID: the double's first device.
    assert consumer._core.device() == "cuda:0"
    # A copy in host memory, through the device frames.
    history = consumer.get(history_len=HISTORY, as_numpy=True)
    assert isinstance(history, np.ndarray) and history.shape == (HISTORY, BYTES)
    assert [frame_pattern.check(history[k]) for k in range(HISTORY)] == [
        (frame_pattern.INTACT, s) for s in (20, 19, 18, 17)]
    # What get() of a CUDA tensor does, into memory the double can address.
    out = np.zeros((2, BYTES), np.uint8)
    for stream in (None, 0, 1, 2):
        out[:] = 0
        assert consumer._core.read_into(out.ctypes.data, out.nbytes, 2, False, stream) == 20
        assert [frame_pattern.check(out[k]) for k in range(2)] == [
            (frame_pattern.INTACT, 19), (frame_pattern.INTACT, 20)]
    with pytest.raises(InvalidArgumentError, match="bytes need"):
        consumer._core.read_into(out.ctypes.data, BYTES, 2, True)
    with pytest.raises(InvalidArgumentError, match=r"history_len 5 is not within 1\.\.4"):
        consumer.get(history_len=5)

    view = consumer.view()
    assert view.seq == 20 and view.device == "cuda:0"
    assert view.__dlpack_device__() == (2, 0)  # kDLCUDA, device 0
    with pytest.raises(FrameMismatchError, match="this frame is in GPU memory"):
        view.numpy()
    for stream in (None, -1, 1, 2):
        capsule = view.__dlpack__(stream=stream)
        assert type(capsule).__name__ == "PyCapsule"
    assert view.still_valid()

    # The producer dies: its memory goes with it (the daemon removes the pool),
    # and the consumer reads nothing rather than memory that is gone, even
    # with a view of it still held.
    producer.signal(signal.SIGKILL)
    producer.wait()
    wait_until(lambda: consumer.status().state == "removed", what="the pool's removal")
    assert consumer._core.device() is None
    assert consumer.get(as_numpy=True) is None
    assert consumer.get() is None  # the CUDA-tensor path: nothing to read either
    consumer.cleanup()


def test_the_callback_of_a_gpu_pool_gets_the_frame_sent_to_the_gpu(daemon, pool_name, procs,
                                                                  host_double, monkeypatch):
    """The frame reaches the callback as get() gives it: on the GPU. Debian's torch has no
    CUDA, so here the step that sends it there is what fails, after the frame was read."""
    torch_or_skip()
    failures = []
    monkeypatch.setattr(sys, "unraisablehook", lambda u: failures.append(u.exc_value))
    calls = []
    consumer = TensorConsumer(gpu_metadata(pool_name), on_new_data_callback=calls.append)
    producer = procs([TEST_PRODUCER, "--name", pool_name, "--bytes", str(BYTES), "--history",
                      str(HISTORY), "--device", "cuda:0", "--frames", "3", "--interval-us",
                      "20000", "--hold"], env=daemon.env())
    producer.wait_for("DONE")
    wait_until(lambda: consumer.status().callback_errors >= 1, what="the callback's frame")
    st = consumer.status()
    consumer.cleanup()
    assert calls == []  # never called with a CPU tensor in place of a GPU one
    assert st.callback_errors == st.delivered >= 1
    assert failures and all("CUDA" in str(e) for e in failures), failures


def test_torch_cuda_tensors_round_trip_on_a_real_gpu(daemon, pool_name, monkeypatch):
    """Producer and consumer in one process (the consumer uses the producer's
    allocation: CUDA refuses to import a handle where it was made); checksums on
    the GPU."""
    torch = torch_or_skip()
    if not _core.built_with_cuda or not torch.cuda.is_available():
        pytest.skip("needs a GPU and a torch with CUDA (Debian's torch has none)")
    monkeypatch.delenv("TENSORIPC_CUDA_BACKEND", raising=False)
    sample = torch.zeros(480, 640, 3, dtype=torch.uint8, device="cuda:0")
    producer = TensorProducer.from_sample(pool_name, sample, history_len=3)
    consumer = TensorConsumer.from_sample(pool_name, sample, history_len=3)
    frames = [torch.full_like(sample, k) + torch.arange(3, device="cuda:0", dtype=torch.uint8)
              for k in range(1, 6)]
    for f in frames:
        producer.put(f)
    latest = consumer.get()
    assert latest.is_cuda and latest.shape == sample.shape
    assert torch.equal(latest, frames[-1])
    history = consumer.get(history_len=3)
    assert torch.equal(history, torch.stack(frames[:-4:-1]))
    view = consumer.view()
    assert torch.equal(view.torch(), frames[-1]) and view.still_valid()
    assert torch.equal(torch.from_numpy(consumer.get(as_numpy=True)), frames[-1].cpu())
    consumer.cleanup()
    producer.cleanup()
