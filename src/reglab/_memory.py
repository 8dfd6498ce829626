"""How much memory this process may still allocate: the one place that reads it.

Used to refuse, before allocating, what cannot fit: a model too wide to train
(``reglab.train.models``) and an ``.npz`` array whose header promises more bytes than the
machine has (a compressed archive of zeros expands a thousandfold).
"""

from __future__ import annotations

__all__ = ["available_memory"]

_UNKNOWN = 8 << 30  # where /proc/meminfo cannot be read (not Linux): assume 8 GiB


def available_memory() -> int:
    """Bytes available (``MemAvailable`` of /proc/meminfo), or 8 GiB where unknown."""
    try:
        with open("/proc/meminfo") as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return _UNKNOWN
