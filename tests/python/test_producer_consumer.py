"""Producers and consumers against a real tensor-ipcd: both backends, history in
both orders, as_numpy, lazy connect, None before the first frame, the zero-copy
view, and the hostile inputs a numpy/torch user may pass."""

import gc
import threading
import time

import numpy as np
import pytest

import frame_pattern
from conftest import helper, torch_or_skip, wait_until
from tensor_ipc import (MetadataCreator, MetadataMismatchError, PoolMetadata, PoolNotFoundError,
                        StateError, TensorConsumer, TensorProducer)


def put_fills(producer, frame, values):
    """put() frames filled with each of `values`; returns the frame indices."""
    out = []
    for v in values:
        frame[...] = v
        out.append(producer.put(frame))
    return out


def test_numpy_round_trip_and_history_both_orders(daemon, pool_name):
    sample = np.zeros((48, 64, 3), np.float32)
    producer = TensorProducer.from_sample(pool_name, sample, history_len=5)
    consumer = TensorConsumer.from_sample(pool_name, sample, history_len=5)
    assert consumer.get() is None  # nothing published yet
    indices = put_fills(producer, sample, range(1, 8))
    assert all(isinstance(i, int) for i in indices)
    assert indices == [k % 5 for k in range(1, 8)]

    latest = consumer.get()
    assert isinstance(latest, np.ndarray) and latest.shape == (48, 64, 3)
    assert latest.dtype == np.float32 and (latest == 7).all()

    newest_first = consumer.get(history_len=3, latest_first=True)
    assert newest_first.shape == (3, 48, 64, 3)
    for k, value in enumerate([7, 6, 5]):
        assert (newest_first[k] == value).all(), k
    oldest_first = consumer.get(history_len=5, latest_first=False)
    for k, value in enumerate([3, 4, 5, 6, 7]):
        assert (oldest_first[k] == value).all(), k
    # Keyword names as the API document has them.
    assert consumer.get(history_len=1, as_numpy=True, latest_first=True).shape == (48, 64, 3)


def test_history_frames_carry_their_pattern(daemon, pool_name):
    frame = np.zeros(4096, np.uint8)
    md = MetadataCreator.from_numpy_sample(pool_name, frame, history_len=8)
    producer = TensorProducer(md)
    consumer = TensorConsumer(md)
    for seq in range(1, 21):
        producer.put(frame_pattern.fill(frame, seq))
    for latest_first in (True, False):
        h = consumer.get(history_len=8, latest_first=latest_first)
        seqs = [frame_pattern.check(h[k]) for k in range(8)]
        expected = list(range(20, 12, -1)) if latest_first else list(range(13, 21))
        assert seqs == [(frame_pattern.INTACT, s) for s in expected]


def test_frames_never_written_read_as_zeros(daemon, pool_name):
    frame = np.zeros(64, np.uint8)
    producer = TensorProducer.from_sample(pool_name, frame, history_len=4)
    consumer = TensorConsumer.from_sample(pool_name, frame, history_len=4)
    producer.put(frame_pattern.fill(frame, 1))
    h = consumer.get(history_len=4)
    assert frame_pattern.check(h[0]) == (frame_pattern.INTACT, 1)
    assert not h[1:].any()


def test_get_returns_an_owning_writable_copy(daemon, pool_name):
    frame = np.arange(12, dtype=np.int32).reshape(3, 4)
    producer = TensorProducer.from_sample(pool_name, frame, history_len=2)
    consumer = TensorConsumer.from_sample(pool_name, frame, history_len=2)
    producer.put(frame)
    a = consumer.get()
    a[...] = -1  # the caller's to modify
    assert (consumer.get() == frame).all()
    producer.put(frame * 2)
    assert (a == -1).all()  # not overwritten by later frames
    del producer, consumer
    gc.collect()
    assert (a == -1).all()  # outlives its consumer


def test_torch_backend_round_trip(daemon, pool_name):
    torch = torch_or_skip()
    sample = torch.zeros(16, 8, dtype=torch.float32)
    producer = TensorProducer.from_sample(pool_name, sample, history_len=4)
    consumer = TensorConsumer.from_sample(pool_name, sample, history_len=4)
    assert producer.metadata.backend_type == "torch"
    for v in range(1, 6):
        producer.put(torch.full((16, 8), float(v)))
    latest = consumer.get()
    assert isinstance(latest, torch.Tensor) and latest.shape == (16, 8)
    assert bool((latest == 5).all())
    h = consumer.get(history_len=3, latest_first=False)
    assert isinstance(h, torch.Tensor) and tuple(h.shape) == (3, 16, 8)
    assert [float(h[k, 0, 0]) for k in range(3)] == [3.0, 4.0, 5.0]
    as_np = consumer.get(history_len=2, as_numpy=True)
    assert isinstance(as_np, np.ndarray) and as_np[:, 0, 0].tolist() == [5.0, 4.0]


def test_torch_puts_of_every_kind_of_tensor(daemon, pool_name):
    torch = torch_or_skip()
    sample = torch.zeros(4, 6)
    producer = TensorProducer.from_sample(pool_name, sample, history_len=2)
    consumer = TensorConsumer.from_sample(pool_name, sample, history_len=2)
    base = torch.arange(24, dtype=torch.float32).reshape(6, 4)
    producer.put(base.t())  # non-contiguous: copied contiguous first
    assert torch.equal(consumer.get(), base.t().contiguous())
    grad = torch.ones(4, 6, requires_grad=True)
    producer.put(grad)  # requires grad: detached
    assert torch.equal(consumer.get(), torch.ones(4, 6))
    c = torch.tensor([1 + 2j, 3 - 4j], dtype=torch.complex64)
    pc = TensorProducer.from_sample(pool_name + "_c", c)
    cc = TensorConsumer.from_sample(pool_name + "_c", c)
    pc.put(c.conj())  # a conjugate view: resolved first
    assert cc.get().tolist() == [1 - 2j, 3 + 4j]
    bf = torch.arange(6, dtype=torch.bfloat16)
    pbf = TensorProducer.from_sample(pool_name + "_bf16", bf)
    cbf = TensorConsumer.from_sample(pool_name + "_bf16", bf)
    pbf.put(bf)
    assert torch.equal(cbf.get(), bf)
    with pytest.raises(TypeError, match="numpy has no bfloat16"):
        cbf.get(as_numpy=True)


def test_torch_producer_numpy_consumer_and_back(daemon, pool_name):
    torch = torch_or_skip()
    t = torch.arange(10, dtype=torch.int64)
    producer = TensorProducer(MetadataCreator.from_torch_sample(pool_name, t, 3))
    np_consumer = TensorConsumer(
        MetadataCreator.from_numpy_sample(pool_name, np.zeros(10, np.int64), 3))
    producer.put(t * 3)
    got = np_consumer.get()
    assert isinstance(got, np.ndarray) and got.tolist() == (t * 3).tolist()
    producer.cleanup()

    np_producer = TensorProducer(
        MetadataCreator.from_numpy_sample(pool_name, np.zeros(10, np.int64), 3))
    torch_consumer = TensorConsumer(MetadataCreator.from_torch_sample(pool_name, t, 3))
    np_producer.put(np.arange(10, dtype=np.int64) * 7)
    got = torch_consumer.get()
    assert isinstance(got, torch.Tensor) and got.tolist() == [i * 7 for i in range(10)]


def test_lazy_connect_consumer_before_producer(daemon, pool_name, procs):
    md = MetadataCreator.from_numpy_sample(pool_name, np.zeros(4096, np.uint8), 4)
    consumer = TensorConsumer(md)
    assert consumer.get() is None
    assert consumer.status().state == "waiting_for_producer"
    p = procs(helper("producer") + ["--name", pool_name, "--frames", "5", "--hold"],
              env=daemon.env())
    pid = int(p.wait_for("READY").split()[1])
    p.wait_for("DONE")
    frame = wait_until(consumer.get, what="the first frame")
    assert frame_pattern.check(frame) == (frame_pattern.INTACT, 5)
    st = consumer.status()
    assert (st.state, st.producer_pid, st.latest_seq) == ("live", pid, 5)
    assert consumer.metadata.shm_name.endswith(pool_name)


def test_non_contiguous_and_other_numpy_inputs(daemon, pool_name):
    sample = np.zeros((4, 6), np.float64)
    producer = TensorProducer.from_sample(pool_name, sample, history_len=2)
    consumer = TensorConsumer.from_sample(pool_name, sample, history_len=2)
    strided = np.arange(24, dtype=np.float64).reshape(6, 4).T  # a transposed view
    producer.put(strided)
    assert (consumer.get() == strided).all()
    fortran = np.asfortranarray(np.arange(24, dtype=np.float64).reshape(4, 6))
    producer.put(fortran)
    assert (consumer.get() == fortran).all()
    readonly = np.full((4, 6), 3.0)
    readonly.flags.writeable = False
    producer.put(readonly)
    assert (consumer.get() == 3.0).all()
    little = np.full((4, 6), 5.0, dtype="<f8")
    producer.put(little)
    assert (consumer.get() == 5.0).all()


def test_scalar_frames(daemon, pool_name):
    with pytest.raises(TypeError, match="got numpy.float32"):
        TensorProducer.from_sample(pool_name, np.float32(0.0), 3)  # a numpy scalar, not an array
    producer = TensorProducer.from_sample(pool_name, np.zeros((), np.float32), 3)
    consumer = TensorConsumer.from_sample(pool_name, np.zeros((), np.float32), history_len=3)
    for v in (1.5, 2.5):
        producer.put(np.array(v, np.float32))
    assert consumer.get().shape == () and float(consumer.get()) == 2.5
    assert consumer.get(history_len=2).tolist() == [2.5, 1.5]


def test_every_numpy_dtype_round_trips(daemon, pool_name):
    for i, dtype in enumerate([np.bool_, np.int8, np.int16, np.int32, np.int64, np.uint8,
                               np.uint16, np.uint32, np.uint64, np.float16, np.float32,
                               np.float64, np.complex64, np.complex128]):
        frame = (np.arange(6) % 2 == 1).astype(dtype) if dtype is np.bool_ else \
            np.arange(6).astype(dtype)
        name = f"{pool_name}_{i}"
        producer = TensorProducer.from_sample(name, frame)
        consumer = TensorConsumer.from_sample(name, frame)
        producer.put(frame)
        got = consumer.get()
        assert got.dtype == frame.dtype and (got == frame).all(), dtype
        producer.cleanup()
        consumer.cleanup()


def test_view_is_zero_copy_and_checks_validity(daemon, pool_name):
    frame = np.zeros(4096, np.uint8)
    producer = TensorProducer.from_sample(pool_name, frame, history_len=2)
    consumer = TensorConsumer.from_sample(pool_name, frame, history_len=2)
    assert consumer.view() is None
    producer.put(frame_pattern.fill(frame, 1))
    v = consumer.view()
    assert v.seq == 1 and v.shape == (4096,) and v.dtype == "uint8" and v.timestamp_ns > 0
    arr = v.numpy()
    assert not arr.flags.writeable and not arr.flags.owndata
    with pytest.raises(ValueError, match="read-only"):
        arr[0] = 1
    assert frame_pattern.check(arr) == (frame_pattern.INTACT, 1) and v.still_valid()
    from_dlpack = np.from_dlpack(v)
    assert np.shares_memory(from_dlpack, arr) or from_dlpack.ctypes.data == arr.ctypes.data
    producer.put(frame_pattern.fill(frame, 2))
    assert v.still_valid()  # slot 1 is not overwritten until seq 3
    producer.put(frame_pattern.fill(frame, 3))
    assert not v.still_valid()
    assert frame_pattern.check(arr) == (frame_pattern.INTACT, 3)  # the slot's new frame
    # The mapping outlives the consumer while a view of it lives.
    consumer.cleanup()
    del v
    gc.collect()
    assert frame_pattern.check(arr)[0] == frame_pattern.INTACT


def test_view_as_torch(daemon, pool_name):
    torch = torch_or_skip()
    sample = torch.zeros(8, 8)
    producer = TensorProducer.from_sample(pool_name, sample, history_len=2)
    consumer = TensorConsumer.from_sample(pool_name, sample, history_len=2)
    producer.put(torch.full((8, 8), 4.0))
    v = consumer.view()
    t = v.torch()
    assert isinstance(t, torch.Tensor) and bool((t == 4).all()) and v.still_valid()
    t2 = torch.utils.dlpack.from_dlpack(v)
    assert t2.data_ptr() == t.data_ptr()


def test_wait_for_frame(daemon, pool_name):
    frame = np.zeros(16, np.uint8)
    producer = TensorProducer.from_sample(pool_name, frame, history_len=2)
    consumer = TensorConsumer.from_sample(pool_name, frame, history_len=2)
    assert consumer.wait_for_frame(timeout=0.05) is False
    t = threading.Timer(0.05, lambda: producer.put(frame))
    t.start()
    assert consumer.wait_for_frame(timeout=30) is True
    t.join()
    consumer.get()
    assert consumer.wait_for_frame(timeout=0) is False


def test_cleanup_is_idempotent_and_context_managers(daemon, pool_name):
    frame = np.zeros(16, np.uint8)
    with TensorProducer.from_sample(pool_name, frame) as producer, \
            TensorConsumer.from_sample(pool_name, frame) as consumer:
        producer.put(frame)
        assert consumer.get() is not None
    assert producer.closed and consumer.closed
    producer.cleanup()
    consumer.cleanup()
    assert consumer.status().state == "closed"
    # The topic is free again.
    TensorProducer.from_sample(pool_name, frame).cleanup()


def test_producer_gc_frees_the_topic(daemon, pool_name):
    frame = np.zeros(16, np.uint8)
    producer = TensorProducer.from_sample(pool_name, frame)
    del producer
    gc.collect()
    TensorProducer.from_sample(pool_name, frame).cleanup()


def test_threads_share_a_producer_and_a_consumer(daemon, pool_name):
    frame = np.zeros(65536, np.uint8)
    producer = TensorProducer.from_sample(pool_name, frame, history_len=4)
    consumer = TensorConsumer.from_sample(pool_name, frame, history_len=4)
    errors = []

    def write():
        buf = np.zeros(65536, np.uint8)
        for _ in range(200):
            # The frame's seq is only known after put(); a frame of another
            # thread's seq is still intact, which is what is checked.
            producer.put(frame_pattern.fill(buf, 1 + producer.latest_seq))

    def read():
        for _ in range(300):
            got = consumer.get(history_len=2)
            if got is not None:
                for k in range(2):
                    if frame_pattern.check(got[k])[0] == frame_pattern.TORN:
                        errors.append("torn")

    threads = [threading.Thread(target=write) for _ in range(2)] + \
        [threading.Thread(target=read) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert producer.latest_seq == 400


def test_metadata_by_hand(daemon, pool_name):
    md = PoolMetadata(name=pool_name, shape=[3], dtype_str="float32", backend_type="numpy",
                      history_len=2)
    producer = TensorProducer(md, keep_last=5)
    consumer = TensorConsumer(md, keep_last=5)
    producer.put(np.array([1, 2, 3], np.float32))
    assert consumer.get().tolist() == [1, 2, 3]
    assert producer.metadata == consumer.metadata  # creator_pid aside
    assert producer.metadata.creator_pid > 0
    assert producer.dds_participant is None and producer.keep_last == 5


def test_cleanup_while_other_threads_read(daemon, pool_name):
    frame = np.zeros(1 << 16, np.uint8)
    producer = TensorProducer.from_sample(pool_name, frame, history_len=4)
    consumer = TensorConsumer.from_sample(pool_name, frame, history_len=4)
    producer.put(frame)
    outcomes = []
    go = threading.Event()

    def read():
        go.wait()
        while True:
            try:
                got = consumer.get(history_len=4)
                view = consumer.view()
                assert got.shape == (4, 1 << 16) and view.numpy().shape == (1 << 16,)
            except StateError:
                outcomes.append("closed")
                return

    threads = [threading.Thread(target=read) for _ in range(3)]
    for t in threads:
        t.start()
    go.set()
    time.sleep(0.05)
    consumer.cleanup()
    for t in threads:
        t.join(30)
    assert outcomes == ["closed"] * 3


def test_both_sides_carry_on_across_a_daemon_restart(daemon, pool_name):
    frame = np.zeros(64, np.uint8)
    producer = TensorProducer.from_sample(pool_name, frame, history_len=4)
    consumer = TensorConsumer.from_sample(pool_name, frame, history_len=4)
    producer.put(frame_pattern.fill(frame, 1))
    daemon.restart()
    producer.put(frame_pattern.fill(frame, 2))  # shared memory keeps working meanwhile
    assert frame_pattern.check(consumer.get()) == (frame_pattern.INTACT, 2)
    wait_until(lambda: producer.connected and consumer.status().connected,
               what="both to reconnect")
    producer.put(frame_pattern.fill(frame, 3))
    assert frame_pattern.check(consumer.get()) == (frame_pattern.INTACT, 3)
    # The re-claimed topic is still this producer's.
    with pytest.raises(ValueError, match="already published"):
        TensorProducer.from_sample(pool_name, frame, history_len=4)


def test_attach_by_name_alone_and_with_a_smaller_history(daemon, pool_name):
    frame = np.arange(6, dtype=np.uint16).reshape(2, 3)
    producer = TensorProducer.from_sample(pool_name=pool_name, sample=frame, history_len=6)
    try:
        for i in range(1, 6):
            producer.put(frame * i)
        consumer = TensorConsumer.attach(pool_name)
        assert consumer.metadata.shape == [2, 3]
        assert consumer.metadata.dtype_str == "uint16"
        assert consumer.metadata.history_len == 6
        last = consumer.get(history_len=5)
        assert last.shape == (5, 2, 3) and np.array_equal(last[0], frame * 5)
        consumer.cleanup()

        few = TensorConsumer.attach(pool_name, history_len=2)
        assert np.array_equal(few.get(history_len=2)[1], frame * 4)
        with pytest.raises(ValueError):
            few.get(history_len=3)  # bounded by its own history
        few.cleanup()

        with pytest.raises(MetadataMismatchError):
            TensorConsumer.attach(pool_name, history_len=7)
        with pytest.raises(PoolNotFoundError) as err:
            TensorConsumer.attach(pool_name + "_nobody")
        assert isinstance(err.value, LookupError)
        assert err.value.pool_name == pool_name + "_nobody"
    finally:
        producer.cleanup()
