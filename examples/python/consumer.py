#!/usr/bin/env python3
"""The consumer of the API document: reads the latest frame and the last three of
"camera_feed" once a second until Ctrl-C. Start it before or after producer.py.

    python3 examples/python/consumer.py [--seconds S]
"""

import argparse
import time

import numpy as np

from tensor_ipc import TensorConsumer


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=0, help="stop after S seconds (0: Ctrl-C)")
    args = ap.parse_args()

    sample_data = np.zeros((640, 480, 3), dtype=np.float32)

    # Create consumer from sample
    consumer = TensorConsumer.from_sample(
        pool_name="camera_feed",
        sample=sample_data,
        history_len=5
    )

    start = time.monotonic()
    try:
        while args.seconds == 0 or time.monotonic() - start < args.seconds:
            # Read latest frame
            latest_frame = consumer.get(history_len=1, as_numpy=True)

            # Read last 3 frames
            history_data = consumer.get(history_len=3, latest_first=True)

            if latest_frame is None:
                print("no frame yet (is producer.py running?)", flush=True)
            else:
                counters = [int(f[0, 0, 0]) for f in history_data]
                print(f"latest frame {latest_frame.shape} {latest_frame.dtype}: frame "
                      f"{int(latest_frame[0, 0, 0])}; last 3 {history_data.shape}: frames "
                      f"{counters}", flush=True)
            time.sleep(min(1.0, args.seconds or 1.0))
    except KeyboardInterrupt:
        pass
    finally:
        consumer.cleanup()


if __name__ == "__main__":
    main()
