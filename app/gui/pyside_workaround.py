"""Keep Python's `None` alive under PySide6 6.12 on Python 3.11.

PySide6 6.12 is built for Python versions where `None` is immortal (3.12+, PEP 683): its calls that
return nothing give back a reference to `None` they never took. On Python 3.11 each such call
(`QLabel.setText`, `QTimer.start`, `processEvents`, ...) lowers `None`'s reference count by one, and after
some tens of thousands of calls — a long session of slider moves and repaints — the interpreter aborts
with "Fatal Python error: none_dealloc". Raising the count far out of reach once, before any Qt call,
makes `None` as good as immortal, which is what PySide6 assumes; on 3.12+ nothing is done.
"""

from __future__ import annotations

import ctypes
import sys

NONE_RESERVE = 1 << 40  # more references than a session could ever drop


def keep_none_alive() -> None:
    if sys.version_info >= (3, 12) or sys.implementation.name != "cpython":
        return
    count = ctypes.c_ssize_t.from_address(id(None))  # ob_refcnt, the first field of every object
    if count.value < NONE_RESERVE:
        count.value += NONE_RESERVE
