"""Reading files that may come from elsewhere: regular files only, of bounded size.

Baselines, reports and weights files are committed, downloaded or hand-edited; a
symlink to ``/dev/zero``, a FIFO or a folder in their place must give a clear
error, never a hang or an endless read. The path is checked with ``stat``
(following symlinks) before it is opened, and again on the open descriptor.
"""

from __future__ import annotations

import contextlib
import os
import stat
from pathlib import Path
from typing import BinaryIO, Iterator

_KINDS = (
    (stat.S_ISDIR, "a folder"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
    (stat.S_ISFIFO, "a FIFO (named pipe)"),
    (stat.S_ISSOCK, "a socket"),
)


class RefusedFile(OSError):
    """The path exists but is not a regular file of acceptable size; the message says what it is."""


def _check(mode: int, size: int, limit: int) -> None:
    if not stat.S_ISREG(mode):
        kind = next((name for test, name in _KINDS if test(mode)), "not a regular file")
        raise RefusedFile(f"it is {kind}, not a regular file")
    if size > limit:
        raise RefusedFile(f"it is larger than the limit of {limit / 2**20:g} MiB ({size / 2**20:.1f} MiB)")


@contextlib.contextmanager
def open_regular(path: Path, limit: int) -> Iterator[BinaryIO]:
    """Open ``path`` for reading if it is a regular file (symlinks resolved) of at most ``limit`` bytes.

    Raises ``FileNotFoundError`` when it does not exist and :class:`RefusedFile` when it is anything else.
    """
    _check(*_mode_size(os.stat(path)), limit)  # before opening: opening a FIFO would wait for a writer
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0))
    try:
        _check(*_mode_size(os.fstat(fd)), limit)  # what was opened, in case the path changed meanwhile
        if hasattr(os, "set_blocking"):
            os.set_blocking(fd, True)
        fh = os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise
    with fh:
        yield fh


def _mode_size(st: os.stat_result) -> tuple[int, int]:
    return st.st_mode, st.st_size


def read_bytes(path: Path, limit: int) -> bytes | None:
    """The content of a regular file of at most ``limit`` bytes; None if there is no such path."""
    try:
        with open_regular(path, limit) as fh:
            data = fh.read(limit + 1)  # a file that grows while read (or lies about its size) stops here
    except FileNotFoundError:
        return None
    if len(data) > limit:
        raise RefusedFile(f"it is larger than the limit of {limit / 2**20:g} MiB")
    return data
