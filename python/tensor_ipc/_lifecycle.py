"""Cleanup at interpreter exit, and what a fork leaves behind.

Every TensorProducer and TensorConsumer registers here. At exit (atexit runs
after the main thread's last line and after non-daemon threads are joined, before
the interpreter tears down) callbacks are stopped, every live object is cleaned
up (its C++ threads joined, its lease ended), and cleanups begun from callbacks
are waited for. No library thread calls into Python after this, so the exit
never hangs and never crashes on a finalizing interpreter.

fork: the library's threads (gRPC's, the consumer's) do not survive it. In a child
forked after this process used tensor_ipc, the objects inherited from the parent
are abandoned (never cleaned up there: that would join threads the child does not
have) and new ones are refused with a StateError that says what to do instead.
A child forked before any use (multiprocessing's default "fork" start method in a
program that makes its producers in the children) works as any process does.
"""

import atexit
import os
import weakref

from . import _core
from .errors import StateError

_live = weakref.WeakSet()
_used = False  # a producer or consumer was made: gRPC runs in this process
_forked = False  # this is a child forked after that


def track(obj):
    """Registers a producer or consumer for cleanup at exit."""
    global _used
    _used = True
    _live.add(obj)


def check_not_forked(what):
    if _forked:
        raise StateError(
            f"cannot create a {what} in a process forked from one that had already used "
            "tensor_ipc (its gRPC connection does not survive fork). Create producers and "
            "consumers only in the child, or start children with multiprocessing's 'spawn' "
            "or 'forkserver' method: multiprocessing.get_context('spawn').Process(...)"
        )


def _after_fork_in_child():
    global _forked
    if not _used:
        return
    _forked = True
    _core._after_fork_in_child()
    for obj in list(_live):
        obj._abandon_after_fork()


def _cleanup_at_exit():
    _core._shutdown()
    for obj in list(_live):
        try:
            obj.cleanup()
        except Exception:  # noqa: BLE001 - exiting: nothing left to tell
            pass
    _core._join_reapers()


atexit.register(_cleanup_at_exit)
os.register_at_fork(after_in_child=_after_fork_in_child)
