"""Programs the interpreter tests run in a process of their own:

    scenarios.py NAME POOL

Each prints READY when set up (and, where callbacks run, once some were
delivered), then does what its name says. See test_interpreter.py.
"""

import sys
import threading
import time

import numpy as np

from tensor_ipc import TensorConsumer, TensorProducer

if __name__ != "__main__":  # a multiprocessing child re-importing this file
    name = pool = None
else:
    name, pool = sys.argv[1], sys.argv[2]
calls = [0]


def count(data):
    calls[0] += 1


def slow(data):
    calls[0] += 1
    time.sleep(0.2)


def mp_child(pool_name):
    """A multiprocessing child (the "children" scenario): publishes one frame."""
    p = TensorProducer.from_sample(pool_name, np.zeros(16, np.uint8), history_len=2)
    p.put(np.full(16, 5, np.uint8))
    p.cleanup()


def busy_producer(nbytes=4096, interval=0.001):
    frame = np.zeros(nbytes, np.uint8)
    producer = TensorProducer.from_sample(pool, frame, history_len=4)

    def run():
        while True:
            producer.put(frame)
            if interval:
                time.sleep(interval)

    threading.Thread(target=run, daemon=True).start()
    return producer, frame


def ready_when_called(n=10):
    deadline = time.monotonic() + 30
    while calls[0] < n:
        if time.monotonic() > deadline:
            print("ERROR no callbacks", flush=True)
            sys.exit(4)
        time.sleep(0.01)
    print("READY", flush=True)


if name == "sigint_sleep":
    producer, frame = busy_producer()
    stream = TensorConsumer.from_sample(pool, frame, history_len=4, callback=count)
    futex = TensorConsumer.from_sample(pool, frame, history_len=4, callback=count, notify="futex")
    try:  # READY inside: the test's Ctrl-C may land while print() returns
        ready_when_called()
        time.sleep(120)
    except KeyboardInterrupt:
        print("INTERRUPTED", flush=True)

elif name == "sigint_wait":
    consumer = TensorConsumer.from_sample(pool, np.zeros(16, np.uint8))
    try:
        print("READY", flush=True)
        consumer.wait_for_frame()  # no producer: waits until Ctrl-C
    except KeyboardInterrupt:
        print("INTERRUPTED", flush=True)

elif name == "sigint_uncaught":
    producer, frame = busy_producer()
    consumer = TensorConsumer.from_sample(pool, frame, history_len=4, callback=count)
    ready_when_called()
    time.sleep(120)

elif name == "exit_without_cleanup":
    producer, frame = busy_producer()
    stream = TensorConsumer.from_sample(pool, frame, history_len=4, callback=count)
    futex = TensorConsumer.from_sample(pool, frame, history_len=4, callback=count, notify="futex")
    ready_when_called()
    # Falls off the end: atexit cleans up while the put thread and callbacks run.

elif name == "exit_during_slow_callback":
    producer, frame = busy_producer(interval=0.01)
    consumer = TensorConsumer.from_sample(pool, frame, history_len=4, callback=slow)
    ready_when_called(2)

elif name == "exit_with_blocked_daemon_threads":
    producer, frame = busy_producer(nbytes=1 << 20, interval=0)  # always inside put()
    waiter = TensorConsumer.from_sample(pool + "_idle", np.zeros(16, np.uint8))
    threading.Thread(target=waiter.wait_for_frame, daemon=True).start()  # waits forever
    reader = TensorConsumer.from_sample(pool, frame, history_len=4)

    def read_forever():
        while True:
            reader.get(history_len=4)  # 4 MiB copied without the GIL

    # Several readers, so that at exit one is likely inside get() while the
    # exit's cleanup closes the consumer under it.
    for _ in range(4):
        threading.Thread(target=read_forever, daemon=True).start()
    time.sleep(0.3)
    print("READY", flush=True)

elif name == "exit_with_republishing_callback":
    # A callback that publishes what it gets into another pool (a filter
    # node), still running when the program exits: the exit's cleanup closes
    # the second producer while the callback is about to put, and joins the
    # callback's thread. Neither may hang, nor report an error at exit.
    producer, frame = busy_producer(interval=0.002)
    out = TensorProducer.from_sample(pool + "_out", frame, history_len=4)

    def republish(data):
        calls[0] += 1
        time.sleep(0.05)  # the exit most likely comes while it sleeps here
        out.put(data)

    consumer = TensorConsumer.from_sample(pool, frame, history_len=4, callback=republish)
    ready_when_called(2)

elif name == "fork_after_use":
    import os
    frame = np.zeros(16, np.uint8)
    producer = TensorProducer.from_sample(pool, frame, history_len=2)
    consumer = TensorConsumer.from_sample(pool, frame, history_len=2, callback=count,
                                          notify="futex")
    pid = os.fork()
    if pid == 0:
        from tensor_ipc import StateError
        for attempt in (lambda: producer.put(frame), consumer.get,
                        lambda: TensorConsumer.from_sample(pool, frame, history_len=2)):
            try:
                attempt()
                print("CHILD no error", flush=True)
            except StateError as e:
                print("CHILD StateError", str(e).split(":")[0][:60], flush=True)
        sys.exit(0)  # atexit runs here: must neither hang nor crash
    _, status = os.waitpid(pid, 0)
    print(f"CHILD-STATUS {status}", flush=True)
    frame[0] = 7
    producer.put(frame)  # the parent's objects are unharmed
    print(f"PARENT {int(consumer.get()[0])}", flush=True)
    print("READY", flush=True)

elif name == "children":
    import multiprocessing as mp

    # fork before this process used tensor_ipc: the child is a process like any other
    proc = mp.get_context("fork").Process(target=mp_child, args=(pool + "_f",))
    proc.start()
    proc.join(30)
    print(f"FORK {proc.exitcode}", flush=True)
    consumer = TensorConsumer.from_sample(pool + "_s", np.zeros(16, np.uint8), history_len=2)
    for method in ("spawn", "forkserver"):
        proc = mp.get_context(method).Process(target=mp_child, args=(pool + "_s",))
        proc.start()
        proc.join(60)
        print(f"{method.upper()} {proc.exitcode} {int(consumer.get()[0])}", flush=True)
    print("READY", flush=True)

elif name is not None:
    print(f"ERROR unknown scenario {name}", flush=True)
    sys.exit(2)
