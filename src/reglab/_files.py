"""Writing users' files: one atomic write, with the mode the user's umask gives.

``atomic_write(path, data)`` writes ``data`` to a temporary file in ``path``'s folder,
flushes it to disk (``fsync``), gives it mode ``0o666 & ~umask`` (what ``open()`` would have
given a new file; ``mkstemp``'s 0600 would hide results from the user's group) and renames
it over ``path`` with ``os.replace``. A reader sees the old file or the new one, never half
of one; on any error the temporary file is removed and :class:`WriteError` names the file.

Example::

    atomic_write(Path("runs/demo/results.csv"), b"run,arm\\n")
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from reglab._validation import InvalidParameterError

__all__ = ["WriteError", "atomic_write", "default_mode"]


class WriteError(InvalidParameterError):
    """A file reglab writes for the user cannot be written (read-only folder, full disk)."""


def _umask() -> int:
    # /proc (Linux >= 4.7) reads the umask without changing it; os.umask both sets and
    # returns it, which would race with another thread creating a file meanwhile.
    try:
        with open("/proc/self/status", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def default_mode() -> int:
    """The mode a new file gets from ``open()``: ``0o666 & ~umask``."""
    return 0o666 & ~_umask()


def atomic_write(path: str | os.PathLike, data: bytes) -> Path:
    """Write ``data`` to ``path`` atomically (temp file, fsync, os.replace); return the path.

    Raises:
        WriteError: the folder is missing or read-only, the disk is full...; no temporary
            file is left behind.
    """
    path = Path(path)
    tmp = None
    try:
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, default_mode())
        os.replace(tmp, path)
        tmp = None
    except OSError as e:
        raise WriteError(f"Cannot write {str(path)!r}: {e.strerror or e}; free space or choose "
                         f"a writable --out folder.") from None
    finally:
        if tmp is not None and os.path.lexists(tmp):
            os.unlink(tmp)
    return path
