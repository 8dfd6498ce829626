"""Worker processes end with their parent: a killed ``reglab`` leaves nothing running.

Every process reglab spawns (the lab's pool workers, DDP ranks) calls
:func:`die_with_parent` first. On Linux, ``prctl(PR_SET_PDEATHSIG, SIGKILL)`` makes the kernel
kill the worker the moment its parent dies (``kill -9``, the OOM killer, a closed SSH
session). PDEATHSIG fires when the parent *thread* that started the worker ends, so workers
are started from the thread that waits for them (the lab's main thread). Everywhere, a daemon
thread also watches ``os.getppid()`` and ends the worker when it changes (re-parented: the
parent is gone), which covers systems without prctl and the race where the parent died
before prctl took hold. Workers never write to the store, so ending them at any point loses
nothing but the run in progress, which a rerun trains again.

The multiprocessing resource tracker needs nothing of its own: it exits when the last
holder of its pipe (the parent and these workers) is gone.
"""

from __future__ import annotations

import ctypes
import os
import signal
import sys
import threading
import time

__all__ = ["die_with_parent", "PARENT_POLL_SECONDS"]

PR_SET_PDEATHSIG = 1  # from <linux/prctl.h>
PARENT_POLL_SECONDS = 0.5  # how often the watcher thread checks the parent is still there


def die_with_parent(parent: int, poll: float = PARENT_POLL_SECONDS) -> None:
    """End this process (SIGKILL) as soon as the process ``parent`` is gone.

    Args:
        parent: the pid of the process that started this one (``os.getpid()`` there).
        poll: seconds between two checks of the watcher thread.
    """
    if sys.platform.startswith("linux"):
        try:
            libc = ctypes.CDLL(None, use_errno=True)
            libc.prctl(PR_SET_PDEATHSIG, int(signal.SIGKILL), 0, 0, 0)
        except (OSError, AttributeError):  # no libc prctl: the watcher thread alone
            pass
    if os.getppid() != parent:  # the parent died before prctl took hold
        _end()
    threading.Thread(target=_watch, args=(parent, poll), name="reglab-parent-watch",
                     daemon=True).start()


def _watch(parent: int, poll: float) -> None:
    while os.getppid() == parent:
        time.sleep(poll)
    _end()


def _end() -> None:
    os.kill(os.getpid(), signal.SIGKILL)
