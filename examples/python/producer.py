#!/usr/bin/env python3
"""The camera producer of the API document: publishes 640x480x3 float32 frames to
the pool "camera_feed" (history 5) at 30 Hz until Ctrl-C.

    python3 examples/python/producer.py [--rate 30] [--frames N]

Needs a running tensor-ipcd (./scripts/run.sh in another shell); finds its socket
as the daemon does ($TENSOR_IPC_SOCKET, else the default socket).
"""

import argparse
import time

import numpy as np

from tensor_ipc import TensorProducer


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rate", type=float, default=30.0, help="frames per second (default 30)")
    ap.add_argument("--frames", type=int, default=0, help="stop after N frames (0: until Ctrl-C)")
    args = ap.parse_args()

    # Create sample data
    sample_data = np.random.rand(640, 480, 3).astype(np.float32)

    # Create producer from sample
    producer = TensorProducer.from_sample(
        pool_name="camera_feed",
        sample=sample_data,
        history_len=5
    )
    image_data = sample_data
    period = 1.0 / args.rate
    next_time = time.monotonic()
    count = 0
    try:
        print(f"Publishing {producer.metadata.shape} {producer.metadata.dtype_str} frames to "
              f"'camera_feed' at {args.rate:g} Hz (Ctrl-C stops)", flush=True)
        while args.frames == 0 or count < args.frames:
            image_data[0, 0, 0] = count  # a frame counter the consumer examples print
            # Write frame to pool
            frame_idx = producer.put(image_data)
            count += 1
            if count % max(1, int(args.rate)) == 0 or count == args.frames:
                print(f"Written frame at index: {frame_idx} (frame {count})", flush=True)
            next_time += period
            time.sleep(max(0.0, next_time - time.monotonic()))
    except KeyboardInterrupt:
        pass
    finally:
        producer.cleanup()
    print(f"Published {count} frames", flush=True)


if __name__ == "__main__":
    main()
