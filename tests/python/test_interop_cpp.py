"""Python and C++ clients on one pool, data verified both ways: a Python consumer
of the C++ test_producer, and the C++ test_consumer of a Python producer. Both
sides use the frame format of tests/client/frame_pattern.h."""

import os
import signal
import threading
import time

import numpy as np
import pytest

import frame_pattern
from conftest import TEST_CONSUMER, TEST_PRODUCER, wait_until
from tensor_ipc import MetadataCreator, TensorConsumer, TensorProducer

BYTES = 65536


def parse_result(line):
    return {k: int(v) for k, v in (w.split("=") for w in line.split()[1:])}


@pytest.fixture(autouse=True)
def _need_cpp_helpers():
    for path in (TEST_PRODUCER, TEST_CONSUMER):
        if not os.access(path, os.X_OK):
            pytest.fail(f"{path} is missing: build the tests first (./scripts/build.sh)")


@pytest.mark.parametrize("notify", ["stream", "futex"])
def test_python_consumer_of_the_cpp_producer(daemon, pool_name, procs, notify):
    seen = []
    lock = threading.Lock()

    def on_frame(data):
        with lock:
            seen.append(frame_pattern.check(data))

    md = MetadataCreator.from_numpy_sample(pool_name, np.zeros(BYTES, np.uint8), history_len=4)
    consumer = TensorConsumer(md, keep_last=64, on_new_data_callback=on_frame, notify=notify)
    producer = procs([TEST_PRODUCER, "--name", pool_name, "--bytes", str(BYTES), "--history", "4",
                      "--frames", "200", "--interval-us", "1000", "--hold"], env=daemon.env())
    producer.wait_for("READY")
    last = int(producer.wait_for("DONE").split()[1])
    assert last == 200

    wait_until(lambda: consumer.status().latest_seq == last, what="the last frame")
    history = consumer.get(history_len=4, latest_first=True)
    assert [frame_pattern.check(history[k]) for k in range(4)] == [
        (frame_pattern.INTACT, s) for s in (200, 199, 198, 197)]
    # The last frame's callback; the exact accounting of every frame is
    # test_callbacks' (here the producer starts publishing at once, before the
    # futex thread has seen the pool: frames from before it did are history).
    wait_until(lambda: seen and seen[-1][1] == 200, what="the last frame's callback")
    st = consumer.status()
    consumer.cleanup()
    with lock:
        kinds = [k for k, _ in seen]
        seqs = [s for _, s in seen]
    assert frame_pattern.TORN not in kinds and frame_pattern.ZERO not in kinds
    assert seqs == sorted(seqs) and len(set(seqs)) == len(seqs)
    assert len(seqs) == st.delivered > 0 and seqs[-1] == 200


@pytest.mark.parametrize("mode", ["get", "stream", "futex"])
def test_cpp_consumer_of_a_python_producer(daemon, pool_name, procs, mode):
    consumer = procs([TEST_CONSUMER, "--name", pool_name, "--bytes", str(BYTES), "--history", "4",
                      "--mode", mode, "--get-history", "2", "--keep-last", "256"],
                     env=daemon.env())
    consumer.wait_for("READY")
    frame = np.zeros(BYTES, np.uint8)
    producer = TensorProducer(MetadataCreator.from_numpy_sample(pool_name, frame, history_len=4))
    for seq in range(1, 201):
        producer.put(frame_pattern.fill(frame, seq))
        time.sleep(0.001)
    # Let the consumer see the last frame before it is stopped (generous: a
    # loaded machine, a sanitizer build).
    time.sleep(2.0)
    consumer.signal(signal.SIGTERM)
    r = parse_result(consumer.wait_for("RESULT"))
    assert consumer.wait() == 0
    assert r["torn"] == 0 and r["order_errors"] == 0
    assert r["intact"] > 0 and r["last_seq"] == 200
    if mode != "get":
        assert r["frames"] == r["intact"]  # every callback got an intact frame
