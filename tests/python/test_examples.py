"""examples/python run as they stand against a daemon, as a new user runs them."""

import os
import signal
import subprocess
import sys

from conftest import SOURCE_DIR, torch_or_skip

EXAMPLES = os.path.join(SOURCE_DIR, "examples", "python")


def example(name):
    return [sys.executable, os.path.join(EXAMPLES, name)]


def test_producer_and_consumers(daemon, procs):
    consumer = procs(example("consumer.py") + ["--seconds", "3"], env=daemon.env())
    callbacks = procs(example("callback_consumer.py") + ["--seconds", "3", "--notify", "futex"],
                      env=daemon.env())
    assert consumer.line().startswith("no frame yet")  # started before the producer
    producer = procs(example("producer.py") + ["--rate", "100", "--frames", "150"],
                     env=daemon.env())
    assert producer.line().startswith("Publishing [640, 480, 3] float32 frames to 'camera_feed'")
    assert producer.wait_for("Written frame at index").startswith("Written frame at index: ")
    assert producer.wait_for("Published") == "Published 150 frames"
    assert producer.wait() == 0
    line = consumer.wait_for("latest frame")
    assert "(640, 480, 3) float32" in line and "last 3 (3, 640, 480, 3)" in line
    assert consumer.wait() == 0
    assert callbacks.wait() == 0
    reports = []
    while True:
        line = callbacks._lines.get(timeout=5)
        if line is None:
            break
        reports.append(line)
    assert reports and int(reports[-1].split()[0]) > 0, reports  # "N frames received, ..."
    assert "Traceback" not in consumer.stderr() + callbacks.stderr() + producer.stderr()


def test_producer_stops_on_ctrl_c(daemon, procs):
    producer = procs(example("producer.py"), env=daemon.env())
    producer.wait_for("Written frame at index")  # publishing
    producer.signal(signal.SIGINT)
    assert producer.wait_for("Published").startswith("Published ")
    assert producer.wait() == 0


def test_metadata_example():
    torch_or_skip()
    out = subprocess.run(example("metadata.py"), capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert lines[0].startswith("PoolMetadata(name='image_pool', shape=[224, 224, 3]")
    assert lines[1].startswith("PoolMetadata(name='torch_pool'")
    assert lines[-1].startswith("PoolMetadata(name='unified_pool'")
