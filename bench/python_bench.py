#!/usr/bin/env python3
"""The Python package's benchmark, against a tensor-ipcd it starts itself.

  copy:    TensorProducer.put and TensorConsumer.get of 3,686,400 B frames (640x480x3
           float32; and 4 KiB) beside numpy.copyto of the same bytes, in the same run,
           taking turns; the zero-copy view (view() + numpy() + still_valid()).
  latency: put -> callback in another process (4 KiB frames at 500 Hz), futex and
           stream paths, beside the C++ library's own figure (tipc_bench_latency,
           run in the same run when --cpp-latency names it).

    PYTHONPATH=build-bench/python /usr/bin/python3 bench/python_bench.py \\
        --daemon build-bench/daemon/tensor-ipcd \\
        --cpp-latency build-bench/bench/tipc_bench_latency \\
        --out bench/results/python.json --md bench/results/python.md

scripts/bench.sh runs it after the C++ benchmarks. Targets (issue 7): put and get
within 1.3x numpy.copyto; the view under 5 us.
"""

import argparse
import datetime
import json
import os
import platform
import random
import signal
import statistics
import subprocess
import sys
import tempfile
import time

import numpy as np

FRAME_SHAPE = (480, 640, 3)  # 3,686,400 B of float32
SMALL = 4096


def percentile(samples, q):
    s = sorted(samples)
    return s[min(len(s) - 1, int(q / 100.0 * len(s)))]


class Daemon:
    def __init__(self, binary):
        self.dir = tempfile.TemporaryDirectory(prefix="tipcbench")
        self.socket = os.path.join(self.dir.name, "tensor-ipcd.sock")
        self.proc = subprocess.Popen(
            [binary, "--socket", self.socket, "--shm-prefix", f"tipcpybench{os.getpid()}.",
             "--retention", "remove", "--log-level", "warn"], stdin=subprocess.DEVNULL)
        deadline = time.monotonic() + 20
        while not os.path.exists(self.socket):
            if time.monotonic() > deadline or self.proc.poll() is not None:
                raise RuntimeError("tensor-ipcd did not start")
            time.sleep(0.01)
        os.environ["TENSOR_IPC_SOCKET"] = self.socket

    def stop(self):
        self.proc.send_signal(signal.SIGTERM)
        self.proc.wait(10)
        self.dir.cleanup()


def timed(fn, n):
    out = []
    clock = time.perf_counter_ns
    for _ in range(n):
        t0 = clock()
        fn()
        out.append(clock() - t0)
    return out


def copy_benchmarks(reps, iters):
    import tensor_ipc as ti
    try:
        import torch
    except ImportError:
        torch = None
    results = {}
    for label, shape in (("3.69 MB (640x480x3 f32)", FRAME_SHAPE), ("4 KiB", (SMALL // 4,))):
        nbytes = int(np.prod(shape)) * 4
        src = np.random.rand(*shape).astype(np.float32)
        dst = np.empty_like(src)
        dst[...] = 0  # pre-faulted
        key = "big" if nbytes > SMALL else "small"
        put_pool = ti.TensorProducer.from_sample(f"bench_put_{key}", src, history_len=1)
        get_producer = ti.TensorProducer.from_sample(f"bench_get_{key}", src, history_len=1)
        get_producer.put(src)
        consumer = ti.TensorConsumer.from_sample(f"bench_get_{key}", src, history_len=1)
        benches = {
            "numpy.copyto": lambda: np.copyto(dst, src),
            "put": lambda: put_pool.put(src),
            "get": lambda: consumer.get(),
            "view": lambda: consumer.view().still_valid(),
            "view+numpy": lambda: (lambda v: (v.numpy(), v.still_valid()))(consumer.view()),
        }
        if torch is not None:
            tsrc = torch.from_numpy(src.copy())
            tput = ti.TensorProducer.from_sample(f"bench_tput_{key}", tsrc, history_len=1)
            tprod = ti.TensorProducer.from_sample(f"bench_tget_{key}", tsrc, history_len=1)
            tprod.put(tsrc)
            tcons = ti.TensorConsumer.from_sample(f"bench_tget_{key}", tsrc, history_len=1)
            tdst = torch.empty_like(tsrc)
            benches["torch copy_"] = lambda: tdst.copy_(tsrc)
            benches["put (torch)"] = lambda: tput.put(tsrc)
            benches["get (torch)"] = lambda: tcons.get()
            benches["view+torch"] = lambda: (lambda v: (v.torch(), v.still_valid()))(
                consumer.view())
        samples = {name: [] for name in benches}
        for fn in benches.values():  # warm up: buffers recycled, pages faulted
            timed(fn, 50)
        for _ in range(reps):
            order = list(benches.items())
            random.shuffle(order)
            for name, fn in order:
                samples[name] += timed(fn, iters if nbytes > SMALL else iters * 10)
        results[label] = {
            name: {"median_ns": statistics.median(s), "p90_ns": percentile(s, 90),
                   "samples": len(s)} for name, s in samples.items()}
        for obj in (put_pool, get_producer, consumer):
            obj.cleanup()
        if torch is not None:
            for obj in (tput, tprod, tcons):
                obj.cleanup()
    return results


# ---- latency: this process produces, a consumer process's callback measures

def consumer_role(args):
    import tensor_ipc as ti
    total = args.warmup + args.samples
    lat = []
    seen = [0]

    def on_frame(data):
        now = time.time_ns()
        words = data.view(np.int64)
        seen[0] += 1
        if words[1] >= args.warmup:
            lat.append(now - int(words[0]))

    consumer = ti.TensorConsumer.from_sample(args.pool, np.zeros(SMALL, np.uint8), history_len=4,
                                             keep_last=64, callback=on_frame, notify=args.path)
    print("READY", flush=True)
    last_change, last_seen = time.monotonic(), 0
    while seen[0] < total and time.monotonic() - last_change < 3:
        time.sleep(0.05)
        if seen[0] != last_seen:
            last_change, last_seen = time.monotonic(), seen[0]
    consumer.cleanup()
    print(json.dumps(lat), flush=True)


def latency_benchmarks(samples, warmup, rate, rounds):
    import tensor_ipc as ti
    out = {}
    per_round = samples // rounds
    for path in ("futex", "stream"):
        out[path] = []
    for r in range(rounds):
        for path in ("futex", "stream"):
            pool = f"bench_lat_{path}_{r}"
            frame = np.zeros(SMALL, np.uint8)
            producer = ti.TensorProducer.from_sample(pool, frame, history_len=4, keep_last=64)
            child = subprocess.Popen(
                [sys.executable, os.path.abspath(__file__), "--role", "consumer", "--pool", pool,
                 "--path", path, "--samples", str(per_round), "--warmup", str(warmup)],
                stdout=subprocess.PIPE, text=True)
            assert child.stdout.readline().strip() == "READY"
            time.sleep(0.3)  # the consumer's notification thread is up
            words = frame.view(np.int64)
            period = 1.0 / rate
            next_t = time.monotonic()
            for i in range(warmup + per_round):
                words[1] = i
                words[0] = time.time_ns()
                producer.put(frame)
                next_t += period
                delay = next_t - time.monotonic()
                if delay > 0:
                    time.sleep(delay)
            lat = json.loads(child.stdout.readline())
            child.wait(30)
            producer.cleanup()
            out[path] += lat
    summary = {}
    for path, lat in out.items():
        us = [x / 1000.0 for x in lat]
        summary[path] = {"count": len(us), "expected": per_round * rounds,
                         "p50_us": round(percentile(us, 50), 2),
                         "p90_us": round(percentile(us, 90), 2),
                         "p99_us": round(percentile(us, 99), 2),
                         "max_us": round(max(us), 2)} if us else {"count": 0}
    return summary


def cpp_latency(binary, samples):
    with tempfile.NamedTemporaryFile(suffix=".json") as f:
        subprocess.run([binary, "--only", "futex,stream", "--consumers", "1", "--samples",
                        str(samples), "--out", f.name], check=True, stdout=subprocess.DEVNULL)
        data = json.load(open(f.name))
    return {e["path"]: {k: e[k] for k in ("count", "expected", "p50_us", "p90_us", "p99_us",
                                           "max_us")} for e in data["latency"]}


def fmt_ns(ns):
    if ns >= 1e6:
        return f"{ns / 1e6:.2f} ms"
    if ns >= 1e3:
        return f"{ns / 1e3:.1f} us"
    return f"{ns:.0f} ns"


def markdown(result):
    ctx = result["context"]
    lines = [
        "## Python benchmark",
        "",
        f"Measured {ctx['date']} on {ctx['cpu']}, {ctx['cpus']} CPUs, Python {ctx['python']}, "
        f"numpy {ctx['numpy']}, torch {ctx['torch']}; load average at the start {ctx['load']}. "
        "Against a real tensor-ipcd; `scripts/bench.sh` (or `bench/python_bench.py`) reproduces it.",
        "",
        "### Targets (issue 7)",
        "",
        "| what | measured | target | |",
        "|---|---:|---:|---|",
    ]
    big = result["copy"]["3.69 MB (640x480x3 f32)"]
    base = big["numpy.copyto"]["median_ns"]
    for name in ("put", "get"):
        ratio = big[name]["median_ns"] / base
        lines.append(f"| {name} 3.69 MB | {ratio:.2f}x numpy.copyto | <= 1.3x | "
                     f"{'pass' if ratio <= 1.3 else '**miss**'} |")
    for name in ("view", "view+numpy"):
        v = big[name]["median_ns"]
        lines.append(f"| {name} | {fmt_ns(v)} | < 5 us | {'pass' if v < 5000 else '**miss**'} |")
    lines += ["", "### put / get / view beside numpy.copyto (median per call; p90)", "",
              "| frame | call | median | p90 | / numpy.copyto |", "|---|---|---:|---:|---:|"]
    for label, benches in result["copy"].items():
        base = benches["numpy.copyto"]["median_ns"]
        for name, b in benches.items():
            lines.append(f"| {label} | {name} | {fmt_ns(b['median_ns'])} | {fmt_ns(b['p90_ns'])} "
                         f"| {b['median_ns'] / base:.2f}x |")
    lines += ["",
              "numpy.copyto: into a pre-faulted array. put: `TensorProducer.put` (history_len 1, "
              "no consumer). get: `TensorConsumer.get()`, a new owning array each call (freed "
              "in the loop, so its buffer is recycled). view: `view()` + `still_valid()`; "
              "view+numpy adds the read-only ndarray over shared memory; view+torch the torch "
              "tensor (DLPack). torch rows: the same calls with torch tensors beside "
              "`Tensor.copy_`.",
              "", "### put -> callback in another process (4 KiB frames at "
              f"{ctx['rate_hz']} Hz)", "",
              "| path | Python p50 | p90 | p99 | samples | C++ p50 (same run) | p99 | Python / C++ p50 |",
              "|---|---:|---:|---:|---:|---:|---:|---:|"]
    for path, py in result["latency"]["python"].items():
        cpp = result["latency"].get("cpp", {}).get(path)
        if not py.get("count"):
            lines.append(f"| {path} | - | - | - | 0 | | | |")
            continue
        c50 = f"{cpp['p50_us']} us" if cpp else "-"
        c99 = f"{cpp['p99_us']} us" if cpp else "-"
        ratio = f"{py['p50_us'] / cpp['p50_us']:.2f}x" if cpp else "-"
        lines.append(f"| {path} | {py['p50_us']} us | {py['p90_us']} us | {py['p99_us']} us | "
                     f"{py['count']}/{py['expected']} | {c50} | {c99} | {ratio} |")
    lines += ["",
              "Python: `time.time_ns()` at callback entry minus the time written into the frame "
              "just before `put()`; the callback gets the frame as a new numpy array. C++: "
              "tipc_bench_latency's `futex` and `stream` rows (callback entry minus the frame's "
              "timestamp), one consumer process.", ""]
    return "\n".join(lines)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--role", default="bench", help=argparse.SUPPRESS)
    ap.add_argument("--pool", help=argparse.SUPPRESS)
    ap.add_argument("--path", default="futex", help=argparse.SUPPRESS)
    ap.add_argument("--daemon", help="the tensor-ipcd binary")
    ap.add_argument("--cpp-latency", help="tipc_bench_latency, for the C++ figure")
    ap.add_argument("--reps", type=int, default=7)
    ap.add_argument("--iters", type=int, default=300)
    ap.add_argument("--samples", type=int, default=2000)
    ap.add_argument("--warmup", type=int, default=100)
    ap.add_argument("--rate", type=float, default=500)
    ap.add_argument("--rounds", type=int, default=4)
    ap.add_argument("--quick", action="store_true", help="fewer repetitions and samples")
    ap.add_argument("--out", help="JSON results (default: stdout)")
    ap.add_argument("--md", help="the markdown table")
    args = ap.parse_args()
    if args.role == "consumer":
        return consumer_role(args)
    if not args.daemon:
        ap.error("--daemon is needed")
    if args.quick:
        args.reps, args.iters, args.samples, args.rounds = 2, 100, 400, 2
    try:
        import torch
        torch_version = torch.__version__
    except ImportError:
        torch_version = "none"
    cpu = "?"
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    result = {"context": {
        "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S%z"),
        "cpu": cpu, "cpus": os.cpu_count(), "python": platform.python_version(),
        "numpy": np.__version__, "torch": torch_version,
        "load": ", ".join(f"{x:.1f}" for x in os.getloadavg()),
        "rate_hz": args.rate, "frame_bytes_latency": SMALL}}
    daemon = Daemon(args.daemon)
    try:
        print("python_bench: put / get / view vs numpy.copyto", file=sys.stderr)
        result["copy"] = copy_benchmarks(args.reps, args.iters)
        print("python_bench: put -> callback latency", file=sys.stderr)
        result["latency"] = {"python": latency_benchmarks(args.samples, args.warmup, args.rate,
                                                          args.rounds)}
        if args.cpp_latency:
            print("python_bench: the C++ latency in the same run", file=sys.stderr)
            result["latency"]["cpp"] = cpp_latency(args.cpp_latency, args.samples)
    finally:
        daemon.stop()
    text = json.dumps(result, indent=1)
    if args.out:
        with open(args.out, "w") as f:
            f.write(text + "\n")
    else:
        print(text)
    md = markdown(result)
    if args.md:
        with open(args.md, "w") as f:
            f.write(md)
    print(md)


if __name__ == "__main__":
    sys.exit(main())
