"""Callbacks: every frame delivered or counted as skipped; an exception in a
callback is reported and later frames still come; cleanup from another thread,
from the callback itself and by the garbage collector while callbacks run."""

import gc
import sys
import threading
import time
import weakref

import numpy as np
import pytest

import frame_pattern
from conftest import helper, torch_or_skip, wait_until
from tensor_ipc import MetadataCreator, StateError, TensorConsumer, TensorProducer

BYTES = 4096


class Recorder:
    """A callback that checks and records every frame it gets."""

    def __init__(self, delay=0.0):
        self.lock = threading.Lock()
        self.results = []
        self.threads = set()
        self.delay = delay

    def __call__(self, data):
        result = frame_pattern.check(data)
        with self.lock:
            self.results.append(result)
            self.threads.add(threading.get_ident())
        if self.delay:
            time.sleep(self.delay)

    def count(self):
        with self.lock:
            return len(self.results)

    def seqs(self):
        with self.lock:
            return [s for _, s in self.results]

    def kinds(self):
        with self.lock:
            return {k for k, _ in self.results}


def go_when_live(consumer, producer):
    """Lets the producer start once the consumer is attached (live: mapped;
    every frame from then on is delivered or counted, on either path)."""
    wait_until(lambda: consumer.status().state == "live", what="the consumer to attach")
    producer.send("GO")


def start_producer(procs, daemon, pool_name, frames, interval_us=200, history=4):
    p = procs(helper("producer") + ["--name", pool_name, "--shape", str(BYTES), "--history",
                                    str(history), "--frames", str(frames), "--interval-us",
                                    str(interval_us), "--wait-go", "--hold"],
              env=daemon.env())
    p.wait_for("READY")
    return p


def md_for(pool_name, history=4):
    return MetadataCreator.from_numpy_sample(pool_name, np.zeros(BYTES, np.uint8), history)


@pytest.mark.parametrize("notify,delay", [("futex", 0.0), ("futex", 0.002), ("stream", 0.0),
                                          ("stream", 0.002)])
def test_every_frame_is_delivered_or_counted(daemon, pool_name, procs, notify, delay):
    frames = 300
    rec = Recorder(delay)
    consumer = TensorConsumer(md_for(pool_name), keep_last=16, on_new_data_callback=rec,
                              notify=notify)
    p = start_producer(procs, daemon, pool_name, frames)
    go_when_live(consumer, p)
    _, last = p.wait_for("DONE").split()
    assert int(last) == frames

    def accounted():
        s = consumer.status()
        total = s.delivered + s.skipped + (s.dropped if notify == "stream" else 0)
        return s if total >= frames else None

    st = wait_until(accounted, what="every frame delivered or counted")
    # `delivered` counts a callback as it starts; the last may still be running.
    wait_until(lambda: rec.count() >= st.delivered, what="the callbacks under way to end")
    assert rec.count() == st.delivered
    total = st.delivered + st.skipped
    if notify == "stream":
        total += st.dropped
    assert total == frames, st
    assert rec.kinds() == {frame_pattern.INTACT}
    seqs = rec.seqs()
    assert seqs == sorted(set(seqs)) and seqs[-1] == frames
    if delay == 0.0 and notify == "futex":
        assert st.delivered > 0
    assert len(rec.threads) >= 1 and threading.get_ident() not in rec.threads


def test_callback_gets_the_backend_type(daemon, pool_name):
    torch = torch_or_skip()
    got = []
    sample = torch.zeros(2, 3)
    producer = TensorProducer.from_sample(pool_name, sample, history_len=4)
    consumer = TensorConsumer.from_sample(pool_name, sample, history_len=4,
                                          callback=got.append)
    producer.put(torch.ones(2, 3))
    wait_until(lambda: len(got) == 1, what="the callback")
    assert isinstance(got[0], torch.Tensor) and bool((got[0] == 1).all())
    consumer.cleanup()


def test_an_exception_in_a_callback_does_not_stop_later_ones(daemon, pool_name, monkeypatch):
    reported = []
    monkeypatch.setattr(sys, "unraisablehook", reported.append)
    calls = []

    def flaky(data):
        calls.append(int(data[0]))
        if int(data[0]) % 3 == 0:
            raise ValueError(f"bad frame {int(data[0])}")

    frame = np.zeros(8, np.int64)
    producer = TensorProducer.from_sample(pool_name, frame, history_len=16)
    consumer = TensorConsumer.from_sample(pool_name, frame, history_len=16, callback=flaky)
    for v in range(1, 13):
        frame[0] = v
        producer.put(frame)
        wait_until(lambda: len(calls) == v, what=f"callback {v}")
    st = consumer.status()
    assert calls == list(range(1, 13))
    assert st.callback_errors == 4 and st.delivered == 12
    wait_until(lambda: len(reported) == 4, what="the unraisable hook")
    assert [str(r.exc_value) for r in reported] == [f"bad frame {v}" for v in (3, 6, 9, 12)]
    assert all(isinstance(r.exc_value, ValueError) and r.object is flaky for r in reported)
    consumer.cleanup()


def test_the_callback_error_is_printed_by_default(daemon, pool_name, procs):
    code = f"""
import numpy as np, time
from tensor_ipc import TensorConsumer, TensorProducer
frame = np.zeros(4, np.uint8)
p = TensorProducer.from_sample({pool_name!r}, frame)
def boom(data):
    raise RuntimeError("this callback is broken")
c = TensorConsumer.from_sample({pool_name!r}, frame, callback=boom)
for _ in range(3):
    p.put(frame)
    c.wait_for_frame(1)
    time.sleep(0.05)
while c.status().callback_errors < 3:
    time.sleep(0.01)
print("OK", c.status().delivered, flush=True)
"""
    proc = procs([sys.executable, "-c", code], env=daemon.env())
    assert proc.wait_for("OK").split() == ["OK", "3"]
    assert proc.wait() == 0
    err = proc.stderr()
    assert err.count("RuntimeError: this callback is broken") == 3
    assert "Exception ignored in" in err


def test_cleanup_from_another_thread_while_callbacks_run(daemon, pool_name, procs):
    rec = Recorder(delay=0.003)
    consumer = TensorConsumer(md_for(pool_name), on_new_data_callback=rec, notify="futex")
    p = start_producer(procs, daemon, pool_name, frames=-1, interval_us=500)
    go_when_live(consumer, p)
    wait_until(lambda: rec.count() >= 20, what="callbacks")
    done = threading.Event()
    cleaner = threading.Thread(target=lambda: (consumer.cleanup(), done.set()))
    cleaner.start()
    cleaner.join(30)
    assert done.is_set(), "cleanup() did not return"
    after = rec.count()
    time.sleep(0.2)
    assert rec.count() == after  # no callback after cleanup() returned
    assert consumer.closed and consumer.status().state == "closed"
    with pytest.raises(StateError):
        consumer.get()
    assert rec.kinds() == {frame_pattern.INTACT}


def test_cleanup_from_the_callback_itself(daemon, pool_name, procs):
    got = []
    holder = {}

    def stop_after_five(data):
        got.append(frame_pattern.check(data)[1])
        if len(got) == 5:
            holder["consumer"].cleanup()  # may not join its own thread: finished elsewhere

    consumer = TensorConsumer(md_for(pool_name), on_new_data_callback=stop_after_five,
                              notify="futex")
    holder["consumer"] = consumer
    p = start_producer(procs, daemon, pool_name, frames=-1, interval_us=1000)
    go_when_live(consumer, p)
    wait_until(lambda: consumer.closed, what="cleanup from the callback")
    time.sleep(0.2)
    assert len(got) == 5
    with pytest.raises(StateError):
        consumer.get()


def test_garbage_collected_while_callbacks_run(daemon, pool_name, procs):
    rec = Recorder()

    class Owner:
        """Holds its consumer; the consumer's callback holds it: a cycle."""

        def __init__(self):
            self.consumer = TensorConsumer(md_for(pool_name), on_new_data_callback=self.on_frame,
                                           notify="futex")

        def on_frame(self, data):
            rec(data)

    owner = Owner()
    ref = weakref.ref(owner.consumer)
    p = start_producer(procs, daemon, pool_name, frames=-1, interval_us=500)
    go_when_live(owner.consumer, p)
    wait_until(lambda: rec.count() >= 10, what="callbacks")
    del owner
    wait_until(lambda: gc.collect() >= 0 and ref() is None, what="the cycle to be collected")
    after = rec.count()
    time.sleep(0.2)
    assert rec.count() == after


def test_a_callback_may_read_from_its_consumer(daemon, pool_name):
    views = []
    holder = {}

    def on_frame(data):
        c = holder["consumer"]
        latest = c.get(history_len=2)
        views.append((int(data[0]), latest.shape))

    frame = np.zeros(4, np.int32)
    producer = TensorProducer.from_sample(pool_name, frame, history_len=4)
    consumer = TensorConsumer.from_sample(pool_name, frame, history_len=4, callback=on_frame)
    holder["consumer"] = consumer
    for v in range(1, 4):
        frame[0] = v
        producer.put(frame)
        wait_until(lambda: len(views) == v, what="callback")
    assert [v for v, _ in views] == [1, 2, 3] and all(s == (2, 4) for _, s in views)
    consumer.cleanup()


def test_callbacks_hold_the_gil_only_while_python_runs(daemon, pool_name):
    """The main thread keeps running Python while frames are delivered."""
    count = [0]
    frame = np.zeros(1 << 20, np.uint8)  # 1 MiB: the copy happens without the GIL
    producer = TensorProducer.from_sample(pool_name, frame, history_len=4)
    consumer = TensorConsumer.from_sample(pool_name, frame, history_len=4,
                                          callback=lambda d: count.__setitem__(0, count[0] + 1))
    spins = 0
    for _ in range(50):
        producer.put(frame)
        spins += sum(1 for _ in range(1000))
    wait_until(lambda: (lambda s: s.delivered + s.skipped + s.dropped)(consumer.status()) >= 50,
               what="callbacks")
    assert spins == 50_000
    consumer.cleanup()


def test_concurrent_cleanups_while_callbacks_run(daemon, pool_name):
    got = []
    frame = np.zeros(64, np.uint8)
    producer = TensorProducer.from_sample(pool_name, frame, history_len=2)
    consumer = TensorConsumer.from_sample(pool_name, frame, history_len=2,
                                          callback=lambda d: (got.append(1), time.sleep(0.001)))
    stop = threading.Event()
    writer = threading.Thread(target=lambda: [producer.put(frame) for _ in iter(stop.is_set, True)])
    writer.start()
    wait_until(lambda: len(got) >= 10, what="callbacks")
    cleaners = [threading.Thread(target=consumer.cleanup) for _ in range(3)]
    for t in cleaners:
        t.start()
    for t in cleaners:
        t.join(30)
    stop.set()
    writer.join(30)
    assert not any(t.is_alive() for t in cleaners + [writer])
    assert consumer.status().state == "closed"
