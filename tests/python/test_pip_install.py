"""`pip install --no-build-isolation ./python` into a venv made with
--system-site-packages, offline, as the README says; then the installed package
(not the build tree) publishes and reads frames against a daemon.

Slow the first time (pip's CMake build compiles the client library in Release);
the build directory (TIPC_PIP_BUILD_DIR) is kept between runs."""

import os
import subprocess
import sys

import pytest

from conftest import BUILD_DIR, SOURCE_DIR

SMOKE = """
import os, sys, numpy as np, tensor_ipc
from tensor_ipc import TensorProducer, TensorConsumer
assert tensor_ipc.__file__.startswith(sys.prefix), tensor_ipc.__file__
maps = open("/proc/self/maps").read()
lib = [l.split()[-1] for l in maps.splitlines() if "libtensoripc-client" in l][0]
assert lib.startswith(sys.prefix), lib
frame = np.arange(12, dtype=np.float32).reshape(3, 4)
p = TensorProducer.from_sample("pip_smoke", frame, history_len=2)
c = TensorConsumer.from_sample("pip_smoke", frame, history_len=2)
p.put(frame)
assert (c.get() == frame).all()
print("OK", tensor_ipc.__version__, lib)
"""


def test_pip_install_into_a_venv(daemon, tmp_path):
    venv = tmp_path / "venv"
    subprocess.run(["/usr/bin/python3", "-m", "venv", "--system-site-packages", str(venv)],
                   check=True)
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "LD_PRELOAD")}
    env["TENSORIPC_PIP_BUILD_DIR"] = os.environ.get(
        "TIPC_PIP_BUILD_DIR", os.path.join(BUILD_DIR, "pip-build"))
    pip = subprocess.run(
        [str(venv / "bin" / "pip"), "install", "--no-build-isolation", "--no-index",
         os.path.join(SOURCE_DIR, "python")],
        env=env, cwd=tmp_path, capture_output=True, text=True)
    assert pip.returncode == 0, pip.stdout[-4000:] + pip.stderr[-4000:]
    # From elsewhere, without the build tree on the path.
    out = subprocess.run([str(venv / "bin" / "python"), "-c", SMOKE], env=env, cwd=tmp_path,
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith("OK ")
    # Nothing of the build went into the source tree.
    assert not os.path.exists(os.path.join(SOURCE_DIR, "python", "build"))
    assert not [p for p in os.listdir(os.path.join(SOURCE_DIR, "python")) if "egg-info" in p]
