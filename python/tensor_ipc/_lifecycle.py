"""Cleanup at interpreter exit.

Every TensorProducer and TensorConsumer registers here. At exit (atexit runs
after the main thread's last line and after non-daemon threads are joined, before
the interpreter tears down) callbacks are stopped, every live object is cleaned
up (its C++ threads joined, its lease ended), and cleanups begun from callbacks
are waited for. No library thread calls into Python after this, so the exit
never hangs and never crashes on a finalizing interpreter.
"""

import atexit
import weakref

from . import _core

_live = weakref.WeakSet()


def track(obj):
    """Registers a producer or consumer for cleanup at exit."""
    _live.add(obj)


def _cleanup_at_exit():
    _core._shutdown()
    for obj in list(_live):
        try:
            obj.cleanup()
        except Exception:  # noqa: BLE001 - exiting: nothing left to tell
            pass
    _core._join_reapers()


atexit.register(_cleanup_at_exit)
