"""The interpreter around the library: Ctrl-C reaches the main thread while
callbacks run, and a program that exits without cleanup() (callbacks running,
daemon threads inside put/get/wait) exits cleanly instead of hanging or aborting."""

import os
import signal

import pytest

from conftest import helper


def run(procs, daemon, scenario, pool_name):
    p = procs(helper("scenarios") + [scenario, pool_name], env=daemon.env())
    p.wait_for("READY")
    return p


def assert_clean_stderr(p):
    err = p.stderr()
    for bad in ("terminate called", "Fatal Python error", "Aborted", "Segmentation",
                "AddressSanitizer", "runtime error", "Traceback", "Exception ignored"):
        assert bad not in err, err


@pytest.mark.parametrize("scenario", ["sigint_sleep", "sigint_wait"])
def test_ctrl_c_reaches_python_while_the_library_runs(daemon, pool_name, procs, scenario):
    p = run(procs, daemon, scenario, pool_name)
    p.signal(signal.SIGINT)
    # The scenario would sleep or wait for minutes: only Ctrl-C ends it early.
    assert p.wait_for("INTERRUPTED", timeout=20) == "INTERRUPTED"
    assert p.wait(20) == 0
    assert_clean_stderr(p)


def test_uncaught_ctrl_c_ends_the_program_as_python_does(daemon, pool_name, procs):
    p = run(procs, daemon, "sigint_uncaught", pool_name)
    p.signal(signal.SIGINT)
    assert p.wait(20) == -signal.SIGINT  # KeyboardInterrupt, uncaught
    assert "KeyboardInterrupt" in p.stderr()
    assert "terminate called" not in p.stderr() and "Fatal Python" not in p.stderr()


@pytest.mark.parametrize("scenario", ["exit_without_cleanup", "exit_during_slow_callback",
                                      "exit_with_blocked_daemon_threads",
                                      "exit_with_republishing_callback"])
def test_exit_without_cleanup(daemon, pool_name, procs, scenario):
    p = run(procs, daemon, scenario, pool_name)
    assert p.wait(30) == 0
    assert_clean_stderr(p)
    # The producer's lease ended with the process: the topic is free again.
    check = procs(helper("producer") + ["--name", pool_name, "--frames", "1"], env=daemon.env())
    check.wait_for("READY")
    assert check.wait() == 0


@pytest.mark.skipif(
    os.environ.get("TIPC_SANITIZE") == "address",
    reason="ASan's allocator (GCC 12) is not fork-safe: a child forked while another thread "
           "allocates deadlocks in free(); the plain suite runs this test")
def test_a_child_forked_after_use_refuses_clearly_and_exits_cleanly(daemon, pool_name, procs):
    p = procs(helper("scenarios") + ["fork_after_use", pool_name], env=daemon.env())
    lines = [p.line() for _ in range(5)]
    assert all(l.startswith("CHILD StateError") for l in lines[:3]), lines
    assert lines[3] == "CHILD-STATUS 0", lines
    assert lines[4] == "PARENT 7", lines
    p.wait_for("READY")
    assert p.wait() == 0
    assert_clean_stderr(p)


def test_children_forked_before_use_or_spawned_work(daemon, pool_name, procs):
    p = procs(helper("scenarios") + ["children", pool_name], env=daemon.env())
    assert p.wait_for("FORK") == "FORK 0"
    assert p.wait_for("SPAWN", timeout=60) == "SPAWN 0 5"
    assert p.wait_for("FORKSERVER", timeout=60) == "FORKSERVER 0 5"
    p.wait_for("READY")
    assert p.wait() == 0
