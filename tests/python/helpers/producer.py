"""A TensorProducer in its own process, for the multi-process tests.

    producer.py --name N [--backend numpy|torch] [--dtype uint8] [--shape 4096]
                [--history 4] [--frames K] [--interval-us U] [--pattern seq|fill]
                [--wait-go] [--hold] [--keep-last L]

Prints "READY <pid>" once it holds the pool (with --wait-go it then waits for a
line on stdin before publishing), "DONE <last seq> <notices dropped>" after
--frames frames (-1: until killed), then exits, or with --hold waits to be
killed. "ERROR <exception class> <message>" and exit 3 if the claim fails.

--pattern seq: frames of frame_pattern (uint8, 1-D), each carrying its seq.
--pattern fill: every element of frame k is k (in the frame's dtype).
"""

import argparse
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import numpy as np  # noqa: E402

import frame_pattern  # noqa: E402
from tensor_ipc import MetadataCreator, TensorProducer  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--name", required=True)
    ap.add_argument("--backend", default="numpy")
    ap.add_argument("--dtype", default="uint8")
    ap.add_argument("--shape", default="4096")
    ap.add_argument("--history", type=int, default=4)
    ap.add_argument("--frames", type=int, default=-1)
    ap.add_argument("--interval-us", type=int, default=0)
    ap.add_argument("--pattern", default="seq", choices=["seq", "fill"])
    ap.add_argument("--wait-go", action="store_true")
    ap.add_argument("--hold", action="store_true")
    ap.add_argument("--keep-last", type=int, default=10)
    a = ap.parse_args()
    shape = tuple(int(d) for d in a.shape.split(",") if d)

    frame = np.zeros(shape, dtype=a.dtype)
    if a.backend == "torch":
        import torch
        sample = torch.from_numpy(frame)
        metadata = MetadataCreator.from_torch_sample(a.name, sample, a.history)
    else:
        metadata = MetadataCreator.from_numpy_sample(a.name, frame, a.history)
    try:
        producer = TensorProducer(metadata, keep_last=a.keep_last)
    except Exception as e:  # noqa: BLE001 - reported to the test
        print(f"ERROR {type(e).__name__} {e}", flush=True)
        return 3
    print(f"READY {os.getpid()}", flush=True)
    if a.wait_go:
        sys.stdin.readline()

    data = torch.from_numpy(frame) if a.backend == "torch" else frame
    interval = a.interval_us / 1e6
    i = 0
    seq = producer.latest_seq
    while a.frames < 0 or i < a.frames:
        seq = producer.latest_seq + 1
        if a.pattern == "seq":
            frame_pattern.fill(frame, seq)
        else:
            frame[...] = seq
        producer.put(data)
        i += 1
        if interval:
            time.sleep(interval)
    print(f"DONE {producer.latest_seq}", flush=True)
    if a.hold:
        while True:
            time.sleep(3600)
    producer.cleanup()
    return 0


if __name__ == "__main__":
    sys.exit(main())
