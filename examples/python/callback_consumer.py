#!/usr/bin/env python3
"""A consumer told of every frame: its callback gets each new frame of "camera_feed"
(on the library's thread) and the main thread prints the rate once a second.

    python3 examples/python/callback_consumer.py [--seconds S] [--notify stream|futex]
"""

import argparse
import threading
import time

import numpy as np

from tensor_ipc import TensorConsumer

received = 0
last_frame = -1
lock = threading.Lock()


def on_new_data(data):
    """Called with each new frame, a numpy array of the pool's shape."""
    global received, last_frame
    with lock:
        received += 1
        last_frame = int(data[0, 0, 0])


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=0, help="stop after S seconds (0: Ctrl-C)")
    ap.add_argument("--notify", default="stream", choices=["stream", "futex"],
                    help="futex: woken straight from shared memory (lowest latency)")
    args = ap.parse_args()

    consumer = TensorConsumer.from_sample(
        pool_name="camera_feed",
        sample=np.zeros((640, 480, 3), dtype=np.float32),
        history_len=5,
        callback=on_new_data,
        notify=args.notify,
    )
    start = time.monotonic()
    try:
        while args.seconds == 0 or time.monotonic() - start < args.seconds:
            time.sleep(1.0 if args.seconds == 0 else min(1.0, args.seconds))
            status = consumer.status()
            with lock:
                print(f"{received} frames received, last frame {last_frame}, "
                      f"skipped {status.skipped}, state {status.state}", flush=True)
    except KeyboardInterrupt:
        pass
    finally:
        consumer.cleanup()


if __name__ == "__main__":
    main()
