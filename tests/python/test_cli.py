"""The tensor-ipc command against the real daemon: every subcommand run as a user
types it (a separate process, --json parsed, and the text form looked at), with
frames of known content from a Python producer in this process or the C++ demo
producer. PNGs are decoded here (zlib and the PNG filters, CRCs checked), so the
pixels are compared, not just the header."""

import json
import os
import shutil
import struct
import subprocess
import tempfile
import zlib
from datetime import datetime

import numpy as np
import pytest

from conftest import BUILD_DIR, LINE_TIMEOUT, TEST_PRODUCER, wait_until
from tensor_ipc import StateError, TensorConsumer, TensorProducer

CLI = os.environ.get("TIPC_CLI", os.path.join(BUILD_DIR, "cli", "tensor-ipc"))
DEMO_PRODUCER = os.environ.get("TIPC_DEMO_PRODUCER",
                               os.path.join(BUILD_DIR, "examples", "cpp_producer"))


def cli(daemon, *args, check=True, env=None, timeout=LINE_TIMEOUT, **popen):
    """Runs tensor-ipc ARGS against `daemon`; returns the CompletedProcess."""
    run_env = daemon.env() if env is None else env
    p = subprocess.run([CLI, *args], env=run_env, capture_output=True, text=True,
                       timeout=timeout, **popen)
    if check and p.returncode != 0:
        pytest.fail(f"tensor-ipc {' '.join(args)} exited {p.returncode}: {p.stderr}")
    return p


def cli_json(daemon, *args):
    return [json.loads(line) for line in cli(daemon, *args, "--json").stdout.splitlines()]


def rfc3339(text):
    return datetime.strptime(text, "%Y-%m-%dT%H:%M:%S.%fZ")


def decode_png(path):
    """(width, height, bit depth, colour type, rows as a numpy array) of a PNG
    file, every chunk's CRC checked."""
    data = open(path, "rb").read()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    pos, idat, ihdr, end = 8, b"", None, False
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos:pos + 4])
        kind = data[pos + 4:pos + 8]
        body = data[pos + 8:pos + 8 + length]
        (crc,) = struct.unpack(">I", data[pos + 8 + length:pos + 12 + length])
        assert zlib.crc32(kind + body) == crc, f"bad CRC in {kind}"
        if kind == b"IHDR":
            ihdr = struct.unpack(">IIBBBBB", body)
        elif kind == b"IDAT":
            idat += body
        elif kind == b"IEND":
            end = True
        pos += 12 + length
    assert ihdr and end
    width, height, depth, colour, _, _, interlace = ihdr
    assert interlace == 0
    channels = {0: 1, 2: 3, 6: 4}[colour]
    bpp = channels * depth // 8
    stride = width * bpp
    raw = zlib.decompress(idat)
    assert len(raw) == height * (stride + 1)
    out = bytearray()
    prev = [0] * stride
    for y in range(height):
        filt = raw[y * (stride + 1)]
        line = raw[y * (stride + 1) + 1:(y + 1) * (stride + 1)]
        cur = [0] * stride
        for x in range(stride):
            a = cur[x - bpp] if x >= bpp else 0
            b = prev[x]
            if filt == 0:
                pred = 0
            elif filt == 1:
                pred = a
            elif filt == 2:
                pred = b
            elif filt == 3:
                pred = (a + b) >> 1
            else:
                c = prev[x - bpp] if x >= bpp else 0
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                pred = a if pa <= pb and pa <= pc else (b if pb <= pc else c)
            cur[x] = (line[x] + pred) & 0xff
        out += bytes(cur)
        prev = cur
    pixels = np.frombuffer(bytes(out), dtype=np.uint8).reshape(height, stride)
    if depth == 16:
        pixels = pixels.reshape(height, width * channels, 2)
        pixels = (pixels[..., 0].astype(np.uint16) << 8) | pixels[..., 1]
    return width, height, depth, colour, pixels.reshape(height, width, channels)


def image(h, w, c, dtype=np.uint8):
    y, x, ch = np.meshgrid(np.arange(h), np.arange(w), np.arange(c), indexing="ij")
    return ((3 * x + 5 * y + 85 * ch) % 256).astype(dtype)


# ---------------------------------------------------------------- ls, info

def test_ls_and_info_show_a_pool_its_producer_and_subscribers(daemon, pool_name):
    frame = np.arange(12, dtype=np.float32).reshape(3, 4)
    producer = TensorProducer.from_sample(pool_name=pool_name, sample=frame, history_len=5)
    producer.put(frame)
    consumer = TensorConsumer.from_sample(pool_name=pool_name, sample=frame, history_len=5)
    try:
        (listing,) = cli_json(daemon, "ls")
        (pool,) = [p for p in listing["pools"] if p["name"] == pool_name]
        assert pool["shape"] == [3, 4]
        assert pool["dtype"] == "float32"
        assert pool["history_len"] == 5
        assert pool["device"] == "cpu"
        assert pool["frame_bytes"] == 48
        assert pool["stats"]["producer_pid"] == os.getpid()
        assert pool["stats"]["latest_seq"] == 1
        assert pool["stats"]["owner_uid"] == os.getuid()
        assert rfc3339(pool["stats"]["created"])
        assert rfc3339(pool["stats"]["last_publish"]) >= rfc3339(pool["stats"]["created"])

        text = cli(daemon, "ls").stdout.splitlines()
        assert text[0].split() == ["NAME", "SHAPE", "DTYPE", "HISTORY", "DEVICE", "PRODUCER",
                                   "RATE", "SUBS", "DROPPED"]
        row = [line for line in text if line.startswith(pool_name + " ")]
        assert row and "[3, 4]" in row[0] and str(os.getpid()) in row[0]

        (info,) = cli_json(daemon, "info", pool_name)
        assert info["name"] == pool_name
        assert info["layout"]["slot_count"] == 5
        assert info["stats"]["subscribers"] == 1
        (sub,) = info["stats"]["subscriber"]
        assert sub["pid"] == os.getpid()
        assert sub["notify"] in ("stream", "futex")
        human = cli(daemon, "info", pool_name).stdout
        assert f"pool {pool_name}" in human and "[3, 4] float32" in human
        assert f"pid {os.getpid()}" in human
    finally:
        consumer.cleanup()
        producer.cleanup()


def test_ls_of_no_pools_and_info_of_a_missing_one(daemon):
    assert cli_json(daemon, "ls") == [{"pools": []}]
    assert "no pools" in cli(daemon, "ls").stdout
    p = cli(daemon, "info", "nothing_here", check=False)
    assert p.returncode == 1
    assert "no pool named 'nothing_here'" in p.stderr


def test_a_kept_pool_shows_no_producer(daemon, pool_name):
    frame = np.zeros(4, dtype=np.uint8)
    producer = TensorProducer.from_sample(pool_name=pool_name, sample=frame, history_len=2)
    producer.put(frame)
    producer.cleanup()
    wait_until(lambda: cli_json(daemon, "info", pool_name)[0]["stats"]["producer_pid"] == 0,
               what="the producer to be gone")
    row = [line for line in cli(daemon, "ls").stdout.splitlines() if line.startswith(pool_name)]
    assert row[0].split()[5:7] == ["-", "-"]  # PRODUCER, RATE
    assert "none (kept" in cli(daemon, "info", pool_name).stdout


# ---------------------------------------------------------------- hz, bw, echo

def test_hz_and_bw_report_the_producers_rate(daemon, pool_name, procs):
    producer = procs([TEST_PRODUCER, "--name", pool_name, "--bytes", "4096", "--history", "8",
                      "--frames", "100000", "--interval-us", "10000"], env=daemon.env())
    producer.wait_for("READY")
    reports = cli_json(daemon, "hz", pool_name, "--count", "2", "--period", "0.5")
    assert len(reports) == 2
    last = reports[-1]
    assert last["pool"] == pool_name
    # A 100 Hz producer that sleeps between frames: never faster, and on a busy
    # machine somewhat slower; what matters is hertz, not kHz or mHz.
    assert 20 < last["rate_hz"] < 110
    assert 0 < last["min_s"] <= last["max_s"]
    assert last["std_dev_s"] >= 0
    assert last["window"] > reports[0]["window"] >= 1
    text = cli(daemon, "hz", pool_name, "-n", "1", "--period", "0.3").stdout
    assert text.startswith("average rate: ") and "std dev:" in text

    (bw,) = cli_json(daemon, "bw", pool_name, "-n", "1", "--period", "0.5")
    assert bw["frame_bytes"] == 4096
    assert bw["bytes_per_s"] == pytest.approx(bw["rate_hz"] * 4096)
    assert "/s from 4.1 kB frames at" in cli(daemon, "bw", pool_name, "-n", "1",
                                             "--period", "0.3").stdout


def test_echo_once_prints_the_latest_frame_and_count_the_next_ones(daemon, pool_name, procs):
    frame = np.zeros((2, 3), dtype=np.int16)
    producer = TensorProducer.from_sample(pool_name=pool_name, sample=frame, history_len=4)
    try:
        producer.put(np.array([[1, 2, 3], [4, 5, -6]], dtype=np.int16))
        (once,) = cli_json(daemon, "echo", pool_name, "--once")
        assert once["seq"] == 1
        assert once["shape"] == [2, 3] and once["dtype"] == "int16"
        assert (once["min"], once["max"], once["mean"]) == (-6, 5, 1.5)
        assert rfc3339(once["time"])
        assert once["latency_us"] >= 0

        echo = procs([CLI, "echo", pool_name, "--count", "3", "--json"], env=daemon.env())
        wait_until(lambda: cli_json(daemon, "info", pool_name)[0]["stats"]["subscribers"] == 1,
                   what="echo to subscribe")
        for v in (10, 20, 30):
            producer.put(np.full((2, 3), v, dtype=np.int16))
        lines = [json.loads(echo.line()) for _ in range(3)]
        assert [ln["seq"] for ln in lines] == [2, 3, 4]
        assert [ln["mean"] for ln in lines] == [10, 20, 30]
        assert echo.wait() == 0
    finally:
        producer.cleanup()


def test_echo_follows_a_pool_made_anew(daemon, pool_name, procs):
    # A pool deleted and made again counts from seq 1: echo goes on with it.
    frame = np.zeros(3, dtype=np.int32)
    first = TensorProducer.from_sample(pool_name=pool_name, sample=frame, history_len=2)
    echo = procs([CLI, "echo", pool_name, "--count", "3", "--json"], env=daemon.env())
    try:
        wait_until(lambda: cli_json(daemon, "info", pool_name)[0]["stats"]["subscribers"] == 1,
                   what="echo to subscribe")
        first.put(np.full(3, 1, dtype=np.int32))
        first.put(np.full(3, 2, dtype=np.int32))
        assert [json.loads(echo.line())["mean"] for _ in range(2)] == [1, 2]
        first.cleanup()
        cli(daemon, "rm", pool_name)
        second = TensorProducer.from_sample(pool_name=pool_name, sample=frame, history_len=2)
        wait_until(lambda: cli_json(daemon, "info", pool_name)[0]["stats"]["subscribers"] == 1,
                   what="echo to be back on the new pool")
        second.put(np.full(3, 9, dtype=np.int32))
        line = json.loads(echo.line())
        assert (line["seq"], line["mean"]) == (1, 9)
        assert echo.wait() == 0
        second.cleanup()
    finally:
        first.cleanup()


def test_echo_waits_for_a_pool_that_does_not_exist_yet(daemon, pool_name, procs):
    echo = procs([CLI, "echo", pool_name, "--once", "--json"], env=daemon.env())
    wait_until(lambda: any("waiting for pool" in ln for ln in echo.stderr_lines),
               what="echo to say it waits")
    frame = np.full(3, 7.5, dtype=np.float64)
    producer = TensorProducer.from_sample(pool_name=pool_name, sample=frame, history_len=1)
    try:
        producer.put(frame)
        line = json.loads(echo.line())
        assert line["seq"] == 1 and line["mean"] == 7.5
        assert echo.wait() == 0
    finally:
        producer.cleanup()


# ---------------------------------------------------------------- watch, rm

def test_watch_reports_pools_coming_and_going(daemon, pool_name, procs):
    first = TensorProducer.from_sample(pool_name=pool_name + "_a", sample=np.zeros(2), history_len=1)
    watch = procs([CLI, "watch", "--json", "--count", "3", "--interval-ms", "50"],
                  env=daemon.env())
    present = json.loads(watch.line())
    assert (present["pool"], present["event"]) == (pool_name + "_a", "present")
    second = TensorProducer.from_sample(pool_name=pool_name + "_b", sample=np.zeros(2),
                                        history_len=1)
    created = json.loads(watch.line())
    assert (created["pool"], created["event"], created["producer_pid"]) == (
        pool_name + "_b", "created", os.getpid())
    second.cleanup()
    left = json.loads(watch.line())
    assert (left["pool"], left["event"]) == (pool_name + "_b", "producer-left")
    cli(daemon, "rm", pool_name + "_b")
    removed = json.loads(watch.line())
    assert (removed["pool"], removed["event"]) == (pool_name + "_b", "removed")
    assert watch.wait() == 0
    first.cleanup()


def test_rm_needs_force_for_a_held_pool_and_says_so(daemon, pool_name):
    producer = TensorProducer.from_sample(pool_name=pool_name, sample=np.zeros(2), history_len=1)
    p = cli(daemon, "rm", pool_name, check=False)
    assert p.returncode == 1
    assert f"held by producer pid {os.getpid()}" in p.stderr and "--force" in p.stderr
    assert cli_json(daemon, "rm", pool_name, "--force") == [{"deleted": pool_name}]
    # The producer's lease is over, and it does not claim the pool back.
    def put_refused():
        try:
            producer.put(np.zeros(2))
            return False
        except StateError as e:
            return "DeletePool with force" in str(e)
    wait_until(put_refused, what="put() to be refused")
    assert cli_json(daemon, "ls") == [{"pools": []}]
    p = cli(daemon, "rm", pool_name, check=False)
    assert p.returncode == 1 and f"no pool named '{pool_name}'" in p.stderr
    producer.cleanup()


# ---------------------------------------------------------------- snapshot

@pytest.mark.parametrize("shape", [(24, 32, 3), (24, 32, 4), (24, 32, 1), (24, 32)])
def test_snapshot_png_of_uint8_is_the_frame_exactly(daemon, pool_name, shape, tmp_path):
    frame = image(shape[0], shape[1], shape[2] if len(shape) == 3 else 1).reshape(shape)
    producer = TensorProducer.from_sample(pool_name=pool_name, sample=frame, history_len=2)
    try:
        producer.put(np.zeros_like(frame))
        producer.put(frame)
        out = tmp_path / "frame.png"
        (said,) = cli_json(daemon, "snapshot", pool_name, "-o", str(out))
        assert said["seq"] == 2 and said["format"] == "png"
        width, height, depth, colour, pixels = decode_png(out)
        assert (width, height, depth) == (32, 24, 8)
        assert colour == {1: 0, 3: 2, 4: 6}[shape[2] if len(shape) == 3 else 1]
        assert np.array_equal(pixels.reshape(shape), frame)
    finally:
        producer.cleanup()


def test_snapshot_png_of_uint16_is_16_bit_and_float_is_scaled(daemon, pool_name, tmp_path):
    deep = (image(8, 10, 1, np.uint16) * 257).reshape(8, 10)
    producer = TensorProducer.from_sample(pool_name=pool_name + "_16", sample=deep, history_len=1)
    unit = np.linspace(0, 1, 8 * 10 * 3, dtype=np.float32).reshape(8, 10, 3)
    floats = TensorProducer.from_sample(pool_name=pool_name + "_f", sample=unit, history_len=1)
    try:
        producer.put(deep)
        cli(daemon, "snapshot", pool_name + "_16", "-o", str(tmp_path / "deep.png"))
        _, _, depth, colour, pixels = decode_png(tmp_path / "deep.png")
        assert (depth, colour) == (16, 0)
        assert np.array_equal(pixels.reshape(8, 10), deep)

        floats.put(unit)
        cli(daemon, "snapshot", pool_name + "_f", "-o", str(tmp_path / "unit.png"))
        _, _, depth, colour, pixels = decode_png(tmp_path / "unit.png")
        assert (depth, colour) == (8, 2)
        # Values within 0..1 are taken as 0..1: v * 255, rounded.
        assert np.array_equal(pixels, np.round(unit * 255).astype(np.uint8))

        # --range maps LO..HI onto 0..255, clamping the rest.
        cli(daemon, "snapshot", pool_name + "_f", "-o", str(tmp_path / "half.png"),
            "--range", "0:0.5")
        _, _, _, _, pixels = decode_png(tmp_path / "half.png")
        assert np.array_equal(pixels,
                              np.round(np.clip(unit / 0.5, 0, 1) * 255).astype(np.uint8))
    finally:
        producer.cleanup()
        floats.cleanup()


def test_snapshot_npy_of_any_pool_and_png_refused_for_non_images(daemon, pool_name, tmp_path):
    frame = np.arange(2 * 5 * 2, dtype=np.complex64).reshape(2, 5, 2) * (1 + 2j)
    producer = TensorProducer.from_sample(pool_name=pool_name, sample=frame, history_len=3)
    vector = np.arange(7, dtype=np.int64)
    other = TensorProducer.from_sample(pool_name=pool_name + "_v", sample=vector, history_len=1)
    try:
        producer.put(frame)
        other.put(vector)
        cli(daemon, "snapshot", pool_name, "-o", str(tmp_path / "c.npy"))
        loaded = np.load(tmp_path / "c.npy")
        assert loaded.dtype == np.complex64 and np.array_equal(loaded, frame)
        cli(daemon, "snapshot", pool_name + "_v", "-o", str(tmp_path / "v.npy"))
        assert np.array_equal(np.load(tmp_path / "v.npy"), vector)

        p = cli(daemon, "snapshot", pool_name, "-o", str(tmp_path / "c.png"), check=False)
        assert p.returncode == 1 and "no PNG" in p.stderr and "last dimension is 2" in p.stderr
        assert not (tmp_path / "c.png").exists()
        p = cli(daemon, "snapshot", pool_name + "_v", "-o", str(tmp_path / "v.png"), check=False)
        assert p.returncode == 1 and "H x W" in p.stderr
        p = cli(daemon, "snapshot", pool_name, "-o", str(tmp_path / "c.jpg"), check=False)
        assert p.returncode == 1 and ".npy or .png" in p.stderr
        p = cli(daemon, "snapshot", pool_name, "-o", str(tmp_path / "x.png"), "--range", "1:0",
                check=False)
        assert p.returncode == 2 and "LO < HI" in p.stderr
    finally:
        producer.cleanup()
        other.cleanup()


def test_snapshot_of_a_pool_with_no_frame_or_no_pool_fails(daemon, pool_name, tmp_path):
    producer = TensorProducer.from_sample(pool_name=pool_name, sample=np.zeros((4, 4)),
                                          history_len=1)
    try:
        p = cli(daemon, "snapshot", pool_name, "-o", str(tmp_path / "a.npy"), check=False)
        assert p.returncode == 1 and "has no frame yet" in p.stderr
        p = cli(daemon, "snapshot", "no_such_pool", "-o", str(tmp_path / "a.npy"), check=False)
        assert p.returncode == 1 and "no pool named 'no_such_pool'" in p.stderr
        assert not (tmp_path / "a.npy").exists()
    finally:
        producer.cleanup()


@pytest.mark.skipif(not os.access(DEMO_PRODUCER, os.X_OK), reason="examples not built")
def test_snapshot_of_the_demo_camera_is_a_png_of_the_camera_image(daemon, procs, tmp_path):
    demo = procs([DEMO_PRODUCER], env=daemon.env())
    wait_until(lambda: any(p["name"] == "camera" and p["stats"]["latest_seq"] > 0
                           for p in cli_json(daemon, "ls")[0]["pools"]),
               what="the demo's first frame")
    out = tmp_path / "camera.png"
    cli(daemon, "snapshot", "camera", "-o", str(out))
    width, height, depth, colour, pixels = decode_png(out)
    assert (width, height, depth, colour) == (640, 480, 8, 2)
    # The demo's diagonal gradient (examples/demo_frame.h): a float frame in
    # 0..1, so the PNG is its pixels * 255. Away from the 16-byte header in
    # the first row, pixel (y, x) channel c is (x + y + 2 * counter + 85c) % 256.
    counter_offset = (int(pixels[1, 0, 0]) - 1) % 256
    y, x, c = np.meshgrid(np.arange(1, 480), np.arange(640), np.arange(3), indexing="ij")
    expected = (x + y + counter_offset + 85 * c) % 256
    assert np.array_equal(pixels[1:], expected.astype(np.uint8))
    demo.signal(2)


# ---------------------------------------------------------------- socket, doctor

def test_socket_says_which_socket_and_whether_a_daemon_answers(daemon, tmp_path):
    (s,) = cli_json(daemon, "socket")
    assert s["socket"] == daemon.socket_path
    assert s["source"] == "TENSOR_IPC_SOCKET"
    assert s["answers"] is True and s["pid"] == daemon.proc.pid and s["version"]
    missing = str(tmp_path / "none.sock")
    p = cli(daemon, "socket", "--json", env=daemon.env(TENSOR_IPC_SOCKET=missing), check=False)
    assert p.returncode == 1
    s = json.loads(p.stdout)
    assert (s["socket"], s["exists"], s["answers"]) == (missing, False, False)
    # Without TENSOR_IPC_SOCKET: the user's own, under XDG_RUNTIME_DIR.
    env = daemon.env(XDG_RUNTIME_DIR=str(tmp_path))
    del env["TENSOR_IPC_SOCKET"]
    if not os.path.exists("/run/tensor-ipc/tensor-ipcd.sock"):
        p = cli(daemon, "socket", env=env, check=False)
        assert p.stdout.splitlines()[0] == str(tmp_path / "tensor-ipc" / "tensor-ipcd.sock")
        assert "XDG_RUNTIME_DIR" in p.stdout


def test_doctor_passes_beside_a_daemon_and_says_how_to_fix_a_missing_one(daemon, tmp_path):
    (report,) = cli_json(daemon, "doctor")
    assert report["ok"] is True
    assert any("tensor-ipcd" in c["what"] and c["level"] == "ok" for c in report["checks"])
    p = cli(daemon, "doctor", env=daemon.env(TENSOR_IPC_SOCKET=str(tmp_path / "x.sock")),
            check=False)
    assert p.returncode == 1
    assert "FAIL  no socket at" in p.stdout and "fix: start one" in p.stdout


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to run as another user")
def test_doctor_run_by_a_user_outside_the_group_says_how_to_join(tmp_path):
    # A daemon whose socket (root:root 0660) another user can see but not open.
    from conftest import Daemon
    shared = tempfile.mkdtemp(prefix="tipcdoc")
    try:
        os.chmod(shared, 0o755)
        d = Daemon(shared)
        try:
            env = d.env()
            p = subprocess.run([CLI, "doctor"], env=env, capture_output=True, text=True,
                               timeout=LINE_TIMEOUT, user=65534, group=65534, extra_groups=[])
            assert p.returncode == 1, p.stdout + p.stderr
            assert "FAIL  no permission to connect" in p.stdout
            assert "mode 0660" in p.stdout
            assert "usermod -aG root" in p.stdout
        finally:
            d.stop()
    finally:
        shutil.rmtree(shared, ignore_errors=True)


def test_the_daemon_logs_subscribers_at_debug(procs, tmp_path, monkeypatch):
    # What an operator sees with --log-level debug when a consumer comes and goes.
    from conftest import DAEMON
    sock = str(tmp_path / "d.sock")
    os.chmod(tmp_path, 0o700)
    daemon = procs([DAEMON, "--socket", sock, "--shm-prefix", f"tipclog{os.getpid()}.",
                    "--log-level", "debug"])
    wait_until(lambda: os.path.exists(sock), what="the daemon's socket")
    monkeypatch.setenv("TENSOR_IPC_SOCKET", sock)
    frame = np.ones(4, dtype=np.float32)
    producer = TensorProducer.from_sample(pool_name="logged", sample=frame, history_len=2)
    try:
        producer.put(frame)
        echo = subprocess.run([CLI, "echo", "logged", "--once"], capture_output=True, text=True,
                              timeout=LINE_TIMEOUT)
        assert echo.returncode == 0, echo.stderr

        def said(what):
            return [ln for ln in daemon.stderr_lines
                    if "pool 'logged': subscriber pid" in ln and what in ln]
        joined = wait_until(lambda: said("joined"), what="the join line")
        assert "frame events, keep_last" in joined[0]
        wait_until(lambda: said("left"), what="the leave line")
    finally:
        producer.cleanup()


def test_a_restart_with_lower_limits_says_what_it_dropped(procs, tmp_path, monkeypatch):
    # Two producers hand their pools back to a daemon restarted with
    # --max-pools 1: one pool carries on, the other is dropped, and the log
    # says which and why; its producer's put() says so too.
    from conftest import DAEMON
    from tensor_ipc import Error
    sock = str(tmp_path / "d.sock")
    os.chmod(tmp_path, 0o700)
    args = [DAEMON, "--socket", sock, "--shm-prefix", f"tipclim{os.getpid()}.",
            "--log-level", "info"]
    first = procs(args)
    wait_until(lambda: os.path.exists(sock), what="the daemon's socket")
    monkeypatch.setenv("TENSOR_IPC_SOCKET", sock)
    frame = np.ones(8, dtype=np.float32)
    a = TensorProducer.from_sample(pool_name="kept_a", sample=frame, history_len=2)
    b = TensorProducer.from_sample(pool_name="kept_b", sample=frame, history_len=2)
    try:
        a.put(frame)
        b.put(frame)
        first.signal(15)
        assert first.wait() == 0
        second = procs(args + ["--max-pools", "1"])
        dropped = wait_until(lambda: [ln for ln in second.stderr_lines
                                      if "handed back after a restart is dropped" in ln],
                             what="the daemon to say what it dropped")
        assert "--max-pools" in dropped[0]
        lost = "kept_a" if "pool 'kept_a'" in dropped[0] else "kept_b"
        kept = "kept_b" if lost == "kept_a" else "kept_a"
        ls = subprocess.run([CLI, "ls", "--json"], capture_output=True, text=True,
                            timeout=LINE_TIMEOUT, check=True)
        assert [p["name"] for p in json.loads(ls.stdout)["pools"]] == [kept]
        loser = a if lost == "kept_a" else b

        def refused():
            try:
                loser.put(frame)
                return False
            except Error as e:
                return "--max-pools" in str(e)
        wait_until(refused, what="the dropped pool's producer to be told")
    finally:
        a.cleanup()
        b.cleanup()
