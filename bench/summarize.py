#!/usr/bin/env python3
"""Turns the benchmark JSON into bench/results/summary.md (python3 stdlib only).

usage: summarize.py [COPY_JSON LATENCY_JSON] [--waiters WAITERS_JSON]
                    [--iceoryx ICEORYX_JSON] [-o summary.md]

COPY_JSON is tipc_bench_copy's --benchmark_out (Google Benchmark JSON, with or
without repetitions: the median is used when there are aggregates);
LATENCY_JSON is tipc_bench_latency's --out. The targets are issue 3's.
WAITERS_JSON is tipc_bench_waiters' --out: put() before any consumer, with
futex consumers asleep, and after they were SIGKILLed; alone, it makes a
summary of that section only. ICEORYX_JSON is tipc_bench_iceoryx's --out:
tensor-ipc beside iceoryx at the same sizes and rates (issue 9's targets);
alone, likewise.
"""
import argparse
import json
import sys

PUT_GET_TARGET = 1.15  # put and copying get within 1.15x of memcpy
VIEW_TARGET_NS = 1000  # a view get under 1 us
FUTEX_TARGET = 2.0  # futex p50 within 2x of the raw futex ping
STREAM_TARGET = 1.3  # stream p50 within 1.3x of a bare gRPC hop (issue 9; 1.5x in issue 3)
# Issue 9, beside iceoryx (same frames, rates and measure): futex-path p50 at
# most these ratios to iceoryx's, and put() at most 2x iceoryx's
# loan + write + publish for small frames, whatever the consumer's path.
FUTEX_VS_ICEORYX = {8: 1.0, 4096: 1.0, 3686400: 1.2}
PUT_VS_ICEORYX = 2.0
PUT_VS_ICEORYX_MAX_BYTES = 4096
# put p50 after the futex waiters were SIGKILLed within this of put p50 before
# any consumer: a dead waiter must not leave puts paying a FUTEX_WAKE.
AFTER_KILL_TARGET = 1.15

SIZE_NAMES = {
    4096: "4 KiB",
    1 << 20: "1 MiB",
    3686400: "3.69 MB (640x480x3 f32)",
    33177600: "33.2 MB (1920x1080x4 f32)",
}
UNIT_NS = {"ns": 1, "us": 1e3, "ms": 1e6, "s": 1e9}


def copy_times(path):
    """{(bench, bytes): (real_ns, cpu_ns)}, medians when repeated."""
    with open(path) as f:
        doc = json.load(f)
    plain, median = {}, {}
    for b in doc["benchmarks"]:
        name = b.get("run_name", b["name"]).split("/")
        key = (name[0], int(name[1]))
        scale = UNIT_NS[b.get("time_unit", "ns")]
        value = (b["real_time"] * scale, b["cpu_time"] * scale)
        if b.get("run_type") == "aggregate":
            if b.get("aggregate_name") == "median":
                median[key] = value
        else:
            plain.setdefault(key, []).append(value)
    out = {k: sorted(v)[len(v) // 2] for k, v in plain.items()}
    out.update(median)
    return out, doc.get("context", {})


def fmt_ns(ns):
    if ns < 0:
        return "-" + fmt_ns(-ns)
    if ns >= 1e6:
        return f"{ns / 1e6:.2f} ms"
    if ns >= 1e3:
        return f"{ns / 1e3:.1f} us"
    return f"{ns:.0f} ns"


def verdict(ok):
    return "pass" if ok else "**miss**"


# (benchmark, column title, shown with its ratio to memcpy, a target row)
COPY_COLUMNS = (
    ("memcpy", "memcpy", False, False),
    ("memcpy_to_shm", "memcpy to shm", False, False),
    ("put", "put", True, True),
    ("memcpy_from_shm", "memcpy from shm", False, False),
    ("get", "get", True, True),
    ("get_into", "get_into", True, True),
    ("read_into", "read_into", True, True),
    ("view", "view", False, False),
)


def copy_section(times, lines, targets):
    header, rule = ["frame"], ["---"]
    for name, title, with_ratio, _ in COPY_COLUMNS:
        if not any(k[0] == name for k in times):
            continue
        header.append(title)
        rule.append("---:")
        if with_ratio:
            header.append(f"{title} / memcpy")
            rule.append("---:")
    lines += [
        "### put / copying get / view vs memcpy (median wall time per frame)",
        "",
        "| " + " | ".join(header) + " |",
        "|" + "|".join(rule) + "|",
    ]
    for size in sorted({k[1] for k in times}):
        if not times.get(("memcpy", size)):
            continue
        base = times[("memcpy", size)][0]
        cells = [SIZE_NAMES.get(size, f"{size} B")]
        for name, title, with_ratio, is_target in COPY_COLUMNS:
            if not any(k[0] == name for k in times):
                continue
            t = times.get((name, size))
            cells.append(fmt_ns(t[0]) if t else "-")
            if with_ratio:
                cells.append(f"{t[0] / base:.2f}x" if t else "-")
            if t and is_target:
                ratio = t[0] / base
                targets.append((f"{title} {SIZE_NAMES.get(size, size)}",
                                f"{ratio:.2f}x memcpy", f"<= {PUT_GET_TARGET}x",
                                ratio <= PUT_GET_TARGET))
        t = times.get(("view", size))
        if t:
            targets.append((f"view {SIZE_NAMES.get(size, size)}", fmt_ns(t[0]),
                            "< 1 us", t[0] < VIEW_TARGET_NS))
        lines.append("| " + " | ".join(cells) + " |")
    lines += [
        "",
        "memcpy: heap to heap, both pre-faulted (the target's baseline). memcpy to/from shm: "
        "the same copy into/out of a pre-faulted shared mapping of the benchmark's own, to tell "
        "the memory's cost from the library's. put: history_len 1, no consumer. get: the "
        "owning copy of the latest frame (a new Tensor per call, its buffer recycled). "
        "get_into: into the same Tensor every call. read_into: into a pre-faulted heap buffer "
        "of the caller's. view: view() + still_valid(), no copy.",
        "",
    ]


def paced_section(times, lines, targets):
    sizes = sorted({k[1] for k in times if k[0] == "put_paced"})
    if not sizes:
        return
    lines += [
        "### put at 1 kHz (one frame per millisecond, the call alone timed)",
        "",
        "| frame | memcpy | put | put / memcpy | put - memcpy |",
        "|---|---:|---:|---:|---:|",
    ]
    for size in sizes:
        m, p = times.get(("memcpy_paced", size)), times.get(("put_paced", size))
        if not m or not p:
            continue
        ratio = p[0] / m[0]
        lines.append(f"| {SIZE_NAMES.get(size, f'{size} B')} | {fmt_ns(m[0])} | {fmt_ns(p[0])} "
                     f"| {ratio:.2f}x | {fmt_ns(p[0] - m[0])} |")
        targets.append((f"put at 1 kHz {SIZE_NAMES.get(size, size)}", f"{ratio:.2f}x memcpy",
                        f"<= {PUT_GET_TARGET}x", ratio <= PUT_GET_TARGET))
    lines += [
        "",
        "With no consumer a put makes no system call. With subscribers, each put makes one "
        "FUTEX_WAKE on the pool's word (futex consumers and tensor-ipcd's frame watcher sleep "
        "on it); nothing is sent to the daemon per frame.",
        "",
    ]


def latency_section(doc, lines, targets):
    rows = doc.get("latency", [])
    lines += [
        "### End-to-end latency put -> callback, consumers in separate processes",
        "",
        "| path | consumers | p50 | p90 | p99 | max | samples | dropped by the daemon |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        dropped = ""
        if r["path"] in ("futex", "stream"):
            dropped = f"{r.get('consumer_dropped', 0)}"
        lines.append(
            f"| {r['path']} | {r['consumers']} | {r['p50_us']:.1f} us | {r['p90_us']:.1f} us "
            f"| {r['p99_us']:.1f} us | {r['max_us']:.1f} us | {r['count']}/{r['expected']} "
            f"| {dropped} |")
    by = {(r["path"], r["consumers"]): r for r in rows}
    ratio_lines = []
    for n in sorted({r["consumers"] for r in rows}):
        if ("stream", n) in by and ("grpc_relay", n) in by and by[("grpc_relay", n)]["p50_us"] > 0:
            ratio = by[("stream", n)]["p50_us"] / by[("grpc_relay", n)]["p50_us"]
            ratio_lines.append(f"| stream p50 / grpc_relay p50 (not a target) | {n} "
                               f"| {ratio:.2f}x | | |")
        for path, floor, target in (("futex", "futex_ping", FUTEX_TARGET),
                                    ("stream", "grpc_hop", STREAM_TARGET)):
            if (path, n) in by and (floor, n) in by and by[(floor, n)]["p50_us"] > 0:
                ratio = by[(path, n)]["p50_us"] / by[(floor, n)]["p50_us"]
                ratio_lines.append(f"| {path} p50 / {floor} p50 | {n} | {ratio:.2f}x "
                                   f"| <= {target}x | {verdict(ratio <= target)} |")
                targets.append((f"{path} p50, {n} consumer{'s' if n > 1 else ''}",
                                f"{ratio:.2f}x {floor}", f"<= {target}x", ratio <= target))
    ctx = doc.get("context", {})
    lines += [
        "",
        f"{ctx.get('frame_bytes', '?')} B frames at {ctx.get('rate_hz', '?')} Hz, "
        f"{ctx.get('samples', '?')} samples per consumer, taken in {ctx.get('rounds', 1)} rounds "
        "in which every configuration takes its turn (so a path and its floor see the same load), "
        f"each after {ctx.get('warmup', '?')} warm-up frames; latency = CLOCK_REALTIME at callback entry minus the frame's timestamp. "
        "futex_ping: a raw FUTEX_WAKE on a shm word to waiter processes. grpc_hop: a bare "
        "callback-API gRPC server streaming a small message over a Unix socket to client "
        "processes (the issue's yardstick). grpc_relay: the same, but the ticks come from a "
        "publisher's client stream to the server in its own process: two hops, the shape of "
        "producer -> tensor-ipcd -> consumer. A sample is missing when its frame was overwritten (history 4) before "
        "its late notification arrived, or when a waiter slept through two pings.",
        "",
        "| ratio | consumers | measured | target | |",
        "|---|---:|---:|---:|---|",
        *ratio_lines,
        "",
    ]


def fps_section(doc, lines):
    rows = doc.get("fps", [])
    if not rows:
        return
    lines += [
        "### Frames per second, 3.69 MB frames (producer as fast as it can, one consumer)",
        "",
        "| consumer path | produced | consumed by the callback | frames skipped by the consumer "
        "| wrong frames |",
        "|---|---:|---:|---:|---:|",
    ]
    for r in rows:
        lines.append(f"| {r['notify']} | {r['produced_fps']:.0f} fps | {r['consumed_fps']:.0f} fps "
                     f"| {r['consumer_lost']} of {r['produced']} | {r['consumer_wrong']} |")
    lines += ["", "The producer never waits for consumers: a consumer that cannot keep up skips "
              "to the newest frame.", ""]


def waiters_section(doc, lines):
    ctx = doc.get("context", {})
    phases = {p["phase"]: p for p in doc.get("phases", [])}
    kills = doc.get("kills", [])
    base = phases.get("no_consumer")
    if not base:
        return
    k = ctx.get("consumers", "?")
    rate = ctx.get("rate_hz")
    rate = f"{rate:g}" if isinstance(rate, (int, float)) else "?"
    titles = {
        "no_consumer": "no consumer",
        "live": f"{k} consumers asleep on the futex (2 threads each)",
        "after_kill": f"after those {k} were SIGKILLed in the wait",
    }
    lines += [
        f"### put at {rate} Hz after futex consumers were SIGKILLed "
        "(tipc_bench_waiters)",
        "",
        f"Measured {ctx.get('date', '?')}, load average at the start "
        f"{', '.join(f'{x:.1f}' for x in ctx.get('load_avg', [])) or '?'}. "
        f"{ctx.get('frame_bytes', '?')} B frames, history_len {ctx.get('history_len', '?')}; "
        f"per phase {ctx.get('puts', '?')} puts, only the call timed, after "
        f"{ctx.get('warmup', '?')} untimed; medians over {ctx.get('rounds', '?')} rounds, each "
        "on a fresh pool through the three phases in turn.",
        "",
        "| phase | p50 | p90 | p99 | p50 / no consumer | p50 per round |",
        "|---|---:|---:|---:|---:|---|",
    ]
    for name in ("no_consumer", "live", "after_kill"):
        p = phases.get(name)
        if not p:
            continue
        ratio = p["p50_us"] / base["p50_us"] if base["p50_us"] > 0 else float("nan")
        per_round = ", ".join(f"{r['p50_us']:.2f}" for r in p.get("rounds", []))
        lines.append(f"| {titles[name]} | {p['p50_us']:.2f} us | {p['p90_us']:.2f} us "
                     f"| {p['p99_us']:.2f} us | {ratio:.2f}x | {per_round} |")
    after = phases.get("after_kill")
    if after and base["p50_us"] > 0:
        ratio = after["p50_us"] / base["p50_us"]
        lines += [
            "",
            f"After the kills put p50 is {ratio:.2f}x the no-consumer p50 (expected <= "
            f"{AFTER_KILL_TARGET}x: a dead waiter should leave no FUTEX_WAKE behind): "
            f"{verdict(ratio <= AFTER_KILL_TARGET)}.",
        ]
    if kills:
        lines += [
            "",
            "| round | processes SIGKILLed | their threads in a shared FUTEX_WAIT then "
            "| subscribers before (tensor-ipcd) | none after |",
            "|---:|---:|---:|---:|---:|",
        ]
        for i, x in enumerate(kills, 1):
            gone = f"{x['subscribers_gone_ms']} ms" if x["subscribers_gone_ms"] >= 0 else "**not in 10 s**"
            asleep = x["asleep_threads"] if x["asleep_threads"] >= 0 else "?"
            lines.append(f"| {i} | {x['killed']} of {k} | {asleep} | {x['subscribers_before']} "
                         f"| {gone} |")
        lines += [
            "",
            "Threads asleep: read from /proc/PID/task/*/syscall just before the SIGKILL (the "
            "pool's waits are the processes' only futex waits without FUTEX_PRIVATE_FLAG). None "
            "after: how long after the last killed process was reaped tensor-ipcd's GetPool "
            "counted no subscriber.",
        ]
    lines += [
        "",
        "No consumer and after the kills alike, a put makes no system call: the daemon lowers "
        "the pool's waiter count when a subscriber's stream ends, however it ends (a count "
        "left raised by the dead would cost every later put a FUTEX_WAKE for nobody). With "
        "live waiters each put wakes all of them, and on a small machine the woken threads "
        "take the CPU from the caller.",
    ]
    lines.append("")


def size_name(n):
    if n in SIZE_NAMES:
        return SIZE_NAMES[n]
    return f"{n} B" if n < 1024 else f"{n / 1024:.0f} KiB"


def iceoryx_section(doc, lines, targets):
    rows = doc.get("results", [])
    by = {(r["bytes"], r["rate_hz"], r["impl"]): r for r in rows}
    configs = []
    for r in rows:
        if (r["bytes"], r["rate_hz"]) not in configs:
            configs.append((r["bytes"], r["rate_hz"]))

    def cell(r, base, key):
        if not r:
            return ""
        text = f"{r[key]:.1f} us"
        if base and base[key] > 0 and r is not base:
            text += f" ({r[key] / base[key]:.2f}x)"
        return text

    lines += [
        "### Beside iceoryx 2.0.3 (tipc_bench_iceoryx)",
        "",
        "Latency from just before the producer writes the frame to the subscriber holding it "
        "(a view: iceoryx's take, tensor-ipc's view() in the callback); ratios to iceoryx "
        "in the same run.",
        "",
        "| frame, rate | iceoryx p50 | futex path p50 | stream path p50 | iceoryx p99 "
        "| futex p99 | stream p99 |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for size, rate in configs:
        iox = by.get((size, rate, "iceoryx"))
        fut = by.get((size, rate, "futex"))
        stm = by.get((size, rate, "stream"))
        lines.append(f"| {size_name(size)}, {rate:g} Hz | {cell(iox, iox, 'p50_us')} "
                     f"| {cell(fut, iox, 'p50_us')} | {cell(stm, iox, 'p50_us')} "
                     f"| {cell(iox, iox, 'p99_us')} | {cell(fut, iox, 'p99_us')} "
                     f"| {cell(stm, iox, 'p99_us')} |")
    lines += [
        "",
        "The producer's side: iceoryx loan + the copy + publish; tensor-ipc put() (the copy "
        "into the slot, the publish, the wake), with one consumer on the path named. The last "
        "columns: the share of frames that took over 1 ms.",
        "",
        "| frame, rate | iceoryx publish p50 | put p50, futex consumer | put p50, stream consumer "
        "| > 1 ms: iceoryx | futex | stream |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for size, rate in configs:
        iox = by.get((size, rate, "iceoryx"))
        fut = by.get((size, rate, "futex"))
        stm = by.get((size, rate, "stream"))
        share = lambda r: f"{100 * r['over_1ms']:.1f}%" if r else ""
        lines.append(f"| {size_name(size)}, {rate:g} Hz | {cell(iox, iox, 'put_p50_us')} "
                     f"| {cell(fut, iox, 'put_p50_us')} | {cell(stm, iox, 'put_p50_us')} "
                     f"| {share(iox)} | {share(fut)} | {share(stm)} |")
        if not iox or iox["p50_us"] <= 0:
            continue
        limit = FUTEX_VS_ICEORYX.get(size)
        if fut and limit is not None:
            ratio = fut["p50_us"] / iox["p50_us"]
            targets.append((f"futex p50 vs iceoryx, {size_name(size)} at {rate:g} Hz",
                            f"{ratio:.2f}x", f"<= {limit}x", ratio <= limit))
        if size <= PUT_VS_ICEORYX_MAX_BYTES and iox["put_p50_us"] > 0:
            for name, r in (("futex", fut), ("stream", stm)):
                if r:
                    ratio = r["put_p50_us"] / iox["put_p50_us"]
                    targets.append((f"put p50 with a {name} consumer vs iceoryx publish, "
                                    f"{size_name(size)}", f"{ratio:.2f}x ({r['put_p50_us']:.1f} us)",
                                    f"<= {PUT_VS_ICEORYX}x", ratio <= PUT_VS_ICEORYX))
    ctx = doc.get("context", {})
    lines += [
        "",
        f"{ctx.get('rounds', '?')} interleaved rounds; {ctx.get('samples', '?')} samples per "
        f"configuration at 1 kHz, {ctx.get('slow_samples', '?')} at 30 Hz, after "
        f"{ctx.get('warmup', '?')} warm-up frames each; history {ctx.get('history_len', 4)} for "
        "tensor-ipc, a queue of 256 for iceoryx; each producer and subscriber in a process of its own. "
        f"Measured {ctx.get('date', '?')}, load average at the start "
        f"{', '.join(f'{x:.1f}' for x in ctx.get('load_avg', [])) or '?'}.",
        "",
    ]


def targets_table(targets):
    return (["| what | measured | target | |", "|---|---:|---:|---|"] +
            [f"| {w} | {m} | {t} | {verdict(ok)} |" for w, m, t, ok in targets])


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("copy_json", nargs="?")
    ap.add_argument("latency_json", nargs="?")
    ap.add_argument("--waiters", metavar="WAITERS_JSON")
    ap.add_argument("--iceoryx", metavar="ICEORYX_JSON")
    ap.add_argument("-o", "--output", default="-")
    args = ap.parse_args()
    if bool(args.copy_json) != bool(args.latency_json):
        ap.error("give both COPY_JSON and LATENCY_JSON, or neither")
    if not args.copy_json and not args.waiters and not args.iceoryx:
        ap.error("nothing to summarize")

    waiters = iceoryx = None
    if args.waiters:
        with open(args.waiters) as f:
            waiters = json.load(f)
    if args.iceoryx:
        with open(args.iceoryx) as f:
            iceoryx = json.load(f)
    if not args.copy_json:
        body, targets = [], []
        if waiters:
            waiters_section(waiters, body)
        if iceoryx:
            iceoryx_section(iceoryx, body, targets)
        head = ["## Benchmarks", ""]
        if targets:
            head += targets_table(targets) + [""]
        write(head + body, args.output)
        return

    times, copy_ctx = copy_times(args.copy_json)
    with open(args.latency_json) as f:
        latency = json.load(f)
    ctx = latency.get("context", {})

    body, targets = [], []
    copy_section(times, body, targets)
    paced_section(times, body, targets)
    latency_section(latency, body, targets)
    fps_section(latency, body)
    if waiters:
        waiters_section(waiters, body)
    if iceoryx:
        iceoryx_section(iceoryx, body, targets)

    lines = [
        "## Benchmarks",
        "",
        f"Measured {ctx.get('date', copy_ctx.get('date', '?'))} on {ctx.get('cpu', '?')}, "
        f"{ctx.get('num_cpus', copy_ctx.get('num_cpus', '?'))} CPUs, Linux "
        f"{ctx.get('kernel', '?')}; load average at the start "
        f"{', '.join(f'{x:.1f}' for x in copy_ctx.get('load_avg', [])) or '?'}. "
        "Release build, against a real tensor-ipcd; `scripts/bench.sh` reproduces it.",
        "",
        "### Targets (issues 3 and 9)",
        "",
        *targets_table(targets),
        "",
    ]
    lines += body
    write(lines, args.output)


def write(lines, output):
    text = "\n".join(lines)
    if output == "-":
        sys.stdout.write(text)
    else:
        with open(output, "w") as f:
            f.write(text)


if __name__ == "__main__":
    main()
