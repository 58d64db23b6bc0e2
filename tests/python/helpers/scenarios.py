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

name, pool = sys.argv[1], sys.argv[2]
calls = [0]


def count(data):
    calls[0] += 1


def slow(data):
    calls[0] += 1
    time.sleep(0.2)


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
    ready_when_called()
    try:
        time.sleep(120)
    except KeyboardInterrupt:
        print("INTERRUPTED", flush=True)

elif name == "sigint_wait":
    consumer = TensorConsumer.from_sample(pool, np.zeros(16, np.uint8))
    print("READY", flush=True)
    try:
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
            reader.get(history_len=4)

    threading.Thread(target=read_forever, daemon=True).start()
    time.sleep(0.3)
    print("READY", flush=True)

else:
    print(f"ERROR unknown scenario {name}", flush=True)
    sys.exit(2)
