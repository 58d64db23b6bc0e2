#!/usr/bin/env python3
"""Runs the real tensor-ipcd the way systemd/tensor-ipcd.service does.

  service_start_test.py --daemon BIN --unit systemd/tensor-ipcd.service
  service_start_test.py --daemon BIN --config systemd/tensor-ipcd.toml

--unit: the unit's own ExecStart= command line (its binary replaced by BIN and
its socket path by a temporary one), so the unit can never pass a flag the
daemon does not take. --config: the example configuration file, with a
temporary socket given as a flag (flags win over the file).

Either way, as under Type=notify: NOTIFY_SOCKET points at a datagram socket of
this test, and the daemon must send READY=1 once its socket is there (with
the mode the unit or file asks), then STOPPING=1 on SIGTERM, exit 0 and
remove its socket.
"""
import argparse
import os
import re
import shlex
import signal
import socket
import stat
import subprocess
import sys
import tempfile
import time

SYSTEM_SOCKET = "/run/tensor-ipc/tensor-ipcd.sock"


def fail(msg, output=None):
    print(f"FAIL: {msg}", file=sys.stderr)
    if output is not None:
        print(f"--- tensor-ipcd output:\n{output}---", file=sys.stderr)
    sys.exit(1)


def unit_command(unit_path):
    """The ExecStart= argv of the unit (a single line, no systemd specifiers)."""
    with open(unit_path) as f:
        lines = [l for l in f.read().splitlines() if l.startswith("ExecStart=")]
    if len(lines) != 1:
        fail(f"{unit_path}: expected exactly one ExecStart= line, found {len(lines)}")
    argv = shlex.split(lines[0][len("ExecStart="):])
    if "%" in lines[0]:
        fail(f"{unit_path}: ExecStart= uses specifiers this test does not expand")
    return argv


def expected_socket_mode(argv, config_path):
    """The socket mode asked for by --socket-mode, or the config's socket-mode."""
    if "--socket-mode" in argv:
        return int(argv[argv.index("--socket-mode") + 1], 8)
    if config_path:
        with open(config_path) as f:
            m = re.search(r'^\s*socket-mode\s*=\s*"?([0-7]+)"?', f.read(), re.M)
        if m:
            return int(m.group(1), 8)
    return 0o660  # the daemon's documented default


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--daemon", required=True)
    group = p.add_mutually_exclusive_group(required=True)
    group.add_argument("--unit")
    group.add_argument("--config")
    args = p.parse_args()

    tmp = tempfile.mkdtemp(prefix="tipc-service-")
    sock_path = os.path.join(tmp, "tensor-ipcd.sock")
    prefix = f"tipcsvc{os.getpid()}."
    if args.unit:
        argv = unit_command(args.unit)
        if not argv[0].endswith("/tensor-ipcd"):
            fail(f"ExecStart= runs {argv[0]}, not tensor-ipcd")
        argv = [args.daemon] + [sock_path if a == SYSTEM_SOCKET else a for a in argv[1:]]
        if sock_path not in argv:
            fail(f"ExecStart= does not pass --socket {SYSTEM_SOCKET}: {argv}")
    else:
        argv = [args.daemon, "--config", args.config, "--socket", sock_path]
    argv += ["--shm-prefix", prefix]
    mode = expected_socket_mode(argv, args.config)

    notify_path = os.path.join(tmp, "notify.sock")
    notify = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    notify.bind(notify_path)
    env = {k: v for k, v in os.environ.items() if k != "TENSOR_IPC_SOCKET"}
    env["NOTIFY_SOCKET"] = notify_path
    log_path = os.path.join(tmp, "daemon.log")
    print("running:", " ".join(shlex.quote(a) for a in argv))
    with open(log_path, "w") as log:
        proc = subprocess.Popen(argv, env=env, stdout=log, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL)

    def output():
        with open(log_path) as f:
            return f.read()

    def wait_notify(what, timeout):
        end = time.monotonic() + timeout
        seen = []
        exited_at = None
        while time.monotonic() < end:
            notify.settimeout(0.1)
            try:
                msg = notify.recv(4096).decode()
            except socket.timeout:
                # Messages sent just before an exit are still queued: read them first.
                if proc.poll() is not None:
                    if exited_at is not None:
                        break
                    exited_at = time.monotonic()
                continue
            seen.append(msg)
            if what in msg.split("\n"):
                return
        fail(f"no {what} on NOTIFY_SOCKET within {timeout} s (got {seen!r}; "
             f"daemon {'exited ' + str(proc.poll()) if proc.poll() is not None else 'running'})",
             output())

    try:
        wait_notify("READY=1", 10)
        if not os.path.exists(sock_path) or not stat.S_ISSOCK(os.stat(sock_path).st_mode):
            fail(f"READY=1 sent before the socket {sock_path} existed", output())
        got = stat.S_IMODE(os.stat(sock_path).st_mode)
        if got != mode:
            fail(f"socket mode {got:04o}, expected {mode:04o}", output())
        print(f"READY=1 with the socket there, mode {got:04o}")

        proc.send_signal(signal.SIGTERM)
        wait_notify("STOPPING=1", 10)
        try:
            rc = proc.wait(10)
        except subprocess.TimeoutExpired:
            fail("no exit within 10 s of SIGTERM", output())
        if rc != 0:
            fail(f"exit status {rc} after SIGTERM, expected 0", output())
        for left_sock in (sock_path, sock_path + ".fd"):
            if os.path.exists(left_sock):
                fail(f"socket {left_sock} left after SIGTERM", output())
        left = [n for n in os.listdir("/dev/shm") if n.startswith(prefix)]
        if left:
            fail(f"files in /dev/shm: {left} (pools are memfds, never files)", output())
        print("STOPPING=1, exit 0, socket removed")
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        for n in os.listdir("/dev/shm"):
            if n.startswith(prefix):
                os.unlink(os.path.join("/dev/shm", n))
        notify.close()
        for f in os.listdir(tmp):
            os.unlink(os.path.join(tmp, f))
        os.rmdir(tmp)
    print("PASS")


if __name__ == "__main__":
    main()
