"""A producer SIGKILLed mid-stream: the Python consumer never gets a torn frame,
never blocks, and sees the producer gone; a new producer resumes the pool."""

import signal

import numpy as np
import pytest

import frame_pattern
from conftest import TEST_PRODUCER, helper, wait_until
from tensor_ipc import MetadataCreator, TensorConsumer

BYTES = 1 << 20


def read_until(consumer, predicate, tally, history):
    """get() in a loop, checking every frame, until predicate() holds."""
    def step():
        got = consumer.get(history_len=history)
        if got is not None:
            frames = got if history > 1 else got[None]
            for f in frames:
                kind, _ = frame_pattern.check(f)
                tally[kind] = tally.get(kind, 0) + 1
        return predicate()
    wait_until(step, interval=0, what="the reads to finish")


@pytest.mark.parametrize("producer_kind", ["python", "cpp"])
def test_sigkilled_producer_leaves_no_torn_frame(daemon, pool_name, procs, producer_kind):
    md = MetadataCreator.from_numpy_sample(pool_name, np.zeros(BYTES, np.uint8), history_len=3)
    gone = []
    consumer = TensorConsumer(md)
    if producer_kind == "python":
        argv = helper("producer") + ["--name", pool_name, "--shape", str(BYTES), "--history", "3"]
    else:
        argv = [TEST_PRODUCER, "--name", pool_name, "--bytes", str(BYTES), "--history", "3"]
    for round_ in range(3):  # kill it three times, at whatever point put() is
        p = procs(argv, env=daemon.env())
        pid = int(p.wait_for("READY").split()[1])
        wait_until(lambda: consumer.status().producer_pid == pid, what="the producer to attach")
        tally = {}
        start = consumer.status().latest_seq
        read_until(consumer, lambda: consumer.status().latest_seq > start + 50, tally, 3)
        p.signal(signal.SIGKILL)
        p.wait()
        read_until(consumer, lambda: consumer.status().state == "producer_gone", tally, 1)
        gone.append(consumer.status())
        # The pool is still readable, and still never torn.
        read_until(consumer, lambda: True, tally, 3)
        assert tally.get(frame_pattern.TORN, 0) == 0, tally
        assert tally.get(frame_pattern.INTACT, 0) > 0
    assert [s.state for s in gone] == ["producer_gone"] * 3
    assert all(s.producer_pid == 0 for s in gone)
    consumer.cleanup()
