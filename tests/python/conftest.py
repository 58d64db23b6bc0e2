"""Fixtures for the Python tests: a real tensor-ipcd on a temporary socket with a
private shm prefix per test, and separate processes (Python helpers in helpers/,
the C++ test_producer / test_consumer) that talk to it.

ctest passes the binaries' paths (tests/python/CMakeLists.txt); run by hand,
the defaults are those of ./scripts/build.sh's build/ directory:

    PYTHONPATH=build/python /usr/bin/python3 -m pytest tests/python
"""

import glob
import itertools
import os
import queue
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
SOURCE_DIR = os.environ.get("TIPC_SOURCE_DIR", os.path.dirname(os.path.dirname(HERE)))
BUILD_DIR = os.environ.get("TIPC_BUILD_DIR", os.path.join(SOURCE_DIR, "build"))
DAEMON = os.environ.get("TIPC_DAEMON", os.path.join(BUILD_DIR, "daemon", "tensor-ipcd"))
TEST_PRODUCER = os.environ.get(
    "TIPC_TEST_PRODUCER", os.path.join(BUILD_DIR, "tests", "client", "test_producer"))
TEST_CONSUMER = os.environ.get(
    "TIPC_TEST_CONSUMER", os.path.join(BUILD_DIR, "tests", "client", "test_consumer"))
HELPERS = os.path.join(HERE, "helpers")

# Generous: the machine is a shared 2-core VM; these only stop a hang.
LINE_TIMEOUT = 30.0

sys.path.insert(0, HERE)  # frame_pattern

_counter = itertools.count()


def torch_or_skip():
    try:
        import torch  # noqa: F401
    except ImportError:
        pytest.skip("torch is not installed (scripts/install-deps.sh installs python3-torch)")
    return sys.modules["torch"]


def wait_until(predicate, timeout=LINE_TIMEOUT, interval=0.005, what="condition"):
    """Polls `predicate` until true; fails the test after `timeout` s (a hang guard)."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value is not None and value is not False and (
                not hasattr(value, "__len__") or hasattr(value, "shape") or len(value)):
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout} s waiting for {what}")
        time.sleep(interval)


class Proc:
    """A child process whose stdout is read line by line on a thread."""

    def __init__(self, argv, env=None, stdin=True):
        self.argv = argv
        self.popen = subprocess.Popen(
            argv, env=env, stdin=subprocess.PIPE if stdin else subprocess.DEVNULL,
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, bufsize=1)
        self.pid = self.popen.pid
        self._lines = queue.Queue()
        self.stderr_lines = []
        self._out = threading.Thread(target=self._pump, args=(self.popen.stdout, self._lines.put),
                                     daemon=True)
        self._err = threading.Thread(target=self._pump,
                                     args=(self.popen.stderr, self.stderr_lines.append),
                                     daemon=True)
        self._out.start()
        self._err.start()

    @staticmethod
    def _pump(stream, sink):
        for line in stream:
            sink(line.rstrip("\n"))
        sink(None)

    def line(self, timeout=LINE_TIMEOUT):
        try:
            line = self._lines.get(timeout=timeout)
        except queue.Empty:
            pytest.fail(f"no output from {self.argv[:2]} (pid {self.pid}) in {timeout} s; "
                        f"stderr: {self.stderr()}")
        if line is None:
            self._lines.put(None)
            pytest.fail(f"{self.argv[:2]} (pid {self.pid}) closed its output; exit "
                        f"{self.popen.poll()}; stderr: {self.stderr()}")
        return line

    def wait_for(self, prefix, timeout=LINE_TIMEOUT):
        deadline = time.monotonic() + timeout
        while True:
            line = self.line(max(0.01, deadline - time.monotonic()))
            if line.startswith(prefix):
                return line
            if line.startswith("ERROR"):
                pytest.fail(f"{self.argv[:2]}: {line}; stderr: {self.stderr()}")

    def send(self, text):
        self.popen.stdin.write(text + "\n")
        self.popen.stdin.flush()

    def signal(self, sig):
        self.popen.send_signal(sig)

    def wait(self, timeout=LINE_TIMEOUT):
        try:
            return self.popen.wait(timeout)
        except subprocess.TimeoutExpired:
            self.popen.kill()
            self.popen.wait()
            pytest.fail(f"{self.argv[:2]} (pid {self.pid}) did not exit in {timeout} s; "
                        f"stderr: {self.stderr()}")

    def stderr(self):
        if self.popen.poll() is not None:
            self._err.join(0.5)
        return "\n".join(line for line in self.stderr_lines if line is not None)

    def close(self):
        if self.popen.poll() is None:
            self.popen.kill()
            self.popen.wait()


class Daemon:
    """The real tensor-ipcd on <tmp>/tensor-ipcd.sock with the prefix tipcpy<pid>x<n>."""

    def __init__(self, tmpdir, extra_args=()):
        if not os.access(DAEMON, os.X_OK):
            pytest.fail(f"tensor-ipcd not found at {DAEMON}: build first (./scripts/build.sh) "
                        "or set TIPC_DAEMON")
        self.socket_path = os.path.join(tmpdir, "tensor-ipcd.sock")
        self.shm_prefix = f"tipcpy{os.getpid()}x{next(_counter)}."
        self._start(extra_args)

    def _start(self, extra_args=()):
        self.proc = subprocess.Popen(
            [DAEMON, "--socket", self.socket_path, "--shm-prefix", self.shm_prefix,
             "--log-level", "warn", *extra_args],
            stdin=subprocess.DEVNULL)
        deadline = time.monotonic() + LINE_TIMEOUT
        while not self._serving():
            if self.proc.poll() is not None:
                pytest.fail(f"tensor-ipcd exited at start ({self.proc.returncode})")
            if time.monotonic() > deadline:
                pytest.fail(f"tensor-ipcd did not come up on {self.socket_path}")
            time.sleep(0.01)

    def _serving(self):
        if not os.path.exists(self.socket_path):
            return False
        with socket.socket(socket.AF_UNIX) as s:
            try:
                s.connect(self.socket_path)
                return True
            except OSError:
                return False

    def env(self, **extra):
        """The environment of a client process of this daemon."""
        env = dict(os.environ)
        env["TENSOR_IPC_SOCKET"] = self.socket_path
        env.update({k: str(v) for k, v in extra.items()})
        return env

    def restart(self):
        """SIGTERM, then a new daemon on the same socket and prefix; producers hand
        their pools back to it."""
        self.proc.send_signal(signal.SIGTERM)
        self.proc.wait(10)
        self._start()

    def segments(self):
        """Labels of the pool memory (memfds) the daemon holds: one per pool."""
        labels = set()
        fd_dir = f"/proc/{self.proc.pid}/fd"
        try:
            names = os.listdir(fd_dir)
        except OSError:
            return []
        for name in names:
            try:
                target = os.readlink(os.path.join(fd_dir, name))
            except OSError:
                continue
            if target.startswith("/memfd:" + self.shm_prefix):
                labels.add(target[len("/memfd:"):].removesuffix(" (deleted)"))
        return sorted(labels)

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


@pytest.fixture
def daemon(monkeypatch):
    with tempfile.TemporaryDirectory(prefix="tipcpy") as tmpdir:
        d = Daemon(tmpdir)
        # Clients made in this process find it as any client would.
        monkeypatch.setenv("TENSOR_IPC_SOCKET", d.socket_path)
        try:
            yield d
        finally:
            d.stop()


@pytest.fixture
def procs():
    """Starts child processes; kills whatever is left at the end of the test."""
    started = []

    def start(argv, env=None, stdin=True):
        p = Proc(argv, env=env, stdin=stdin)
        started.append(p)
        return p

    yield start
    for p in started:
        p.close()


def helper(name):
    """argv prefix to run helpers/<name>.py with this interpreter."""
    return [sys.executable, os.path.join(HELPERS, name + ".py")]


@pytest.fixture
def pool_name(request):
    """A pool name unique to the test."""
    return "t_" + request.node.name.replace("[", "_").replace("]", "").replace("-", "_")[:100]
