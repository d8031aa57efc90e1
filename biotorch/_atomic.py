"""All-or-nothing file output: write to a unique temporary file beside the target, then rename.

Temporary files are named ``.<stem>.tmp-<pid>-<random><suffix>`` in the target's directory, so
concurrent writers never collide and a file left behind by a killed process says what it was
for (``find . -name '.*.tmp-*'`` lists them). The process umask is never changed: a new target
gets the permissions ``open()`` would give it, and an existing target keeps its own mode.
"""

from __future__ import annotations

import os
import secrets
import stat
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

TEMP_MARKER = ".tmp-"


def temp_name_for(path: Path) -> Path:
    """A fresh temporary path beside ``path``, keeping its suffix (plotting libraries read it)."""
    token = f"{os.getpid()}-{secrets.token_hex(4)}"
    return path.with_name(f".{path.stem}{TEMP_MARKER}{token}{path.suffix}")


@contextmanager
def atomic_output(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a new empty temporary path to write; on success it replaces ``path`` atomically.

    On any exception (KeyboardInterrupt included) the temporary file is removed and ``path`` is
    left as it was.
    """
    path = Path(path)
    tmp = temp_name_for(path)
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)  # umask applies as for open()
    os.close(fd)
    try:
        try:
            os.chmod(tmp, stat.S_IMODE(os.stat(path).st_mode))
        except FileNotFoundError:
            pass
        yield tmp
        with open(tmp, "rb+") as written:
            os.fsync(written.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    _fsync_directory(path.parent)


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> None:
    """Write ``data`` to ``path`` all-or-nothing."""
    with atomic_output(path) as tmp:
        tmp.write_bytes(data)


def atomic_write_text(path: str | os.PathLike, text: str) -> None:
    """Write ``text`` (UTF-8) to ``path`` all-or-nothing."""
    atomic_write_bytes(path, text.encode())


def _fsync_directory(directory: Path) -> None:
    """Make the rename durable where the platform allows opening a directory."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
