"""Writing a file the user will see: one rule for every export, bundle, saved prompt and training file.

- `-` means standard output.
- Only a regular file (or nothing) at the path is replaced: a symlink, FIFO, device or directory is refused
  with a UserError (the CLI's exit 2), so `-o /dev/null` as root or `-o link` never clobbers what it points at.
- The bytes go to a temporary file in the same folder, then `os.replace`: a reader never sees half a file.
- The new file gets the usual mode (0666 less the umask, as `open()` would give it); a file that is replaced
  keeps its own mode (a tracked prompts/*.yaml stays 644 after Save).
"""

from __future__ import annotations

import os
import secrets
import stat
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO

from workbench.errors import UserError

STDOUT = "-"


def is_stdout(path: str | Path | None) -> bool:
    return str(path) == STDOUT


def shown(path: str | Path) -> str:
    """How to name the destination in a message."""
    return "standard output" if is_stdout(path) else str(path)


def check_target(path: str | Path) -> Path:
    """The path, if writing there would replace nothing or a regular file; otherwise a UserError."""
    path = Path(path)
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        return path
    except NotADirectoryError:
        raise UserError("a folder in this path is a file", str(path)) from None
    kind = _kind(st.st_mode)
    if kind:
        raise UserError(f"is {kind}; refusing to replace it (name a regular file)", str(path))
    return path


def _kind(mode: int) -> str | None:
    if stat.S_ISREG(mode):
        return None
    if stat.S_ISLNK(mode):
        return "a symbolic link"
    if stat.S_ISDIR(mode):
        return "a directory"
    if stat.S_ISFIFO(mode):
        return "a FIFO"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    if stat.S_ISSOCK(mode):
        return "a socket"
    return "not a regular file"


@contextmanager
def open_for_write(path: str | Path, binary: bool = False) -> Iterator[IO]:
    """A file object for `path` (standard output for `-`); the file appears whole, or not at all,
    when the block ends without an exception."""
    if is_stdout(path):
        out = sys.stdout.buffer if binary else sys.stdout
        yield out
        out.flush()
        return
    path = check_target(path)
    folder = path.parent
    if folder.exists() and not folder.is_dir():
        raise UserError("the folder to write into is not a directory", str(folder))
    folder.mkdir(parents=True, exist_ok=True)
    keep = _existing_mode(path)
    tmp = folder / f".{path.name}.{secrets.token_hex(4)}.tmp"
    # O_EXCL: never follow or reuse something already at the temporary name; 0o666: the kernel applies the umask
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0), 0o666)
    try:
        if keep is not None:
            os.fchmod(fd, keep)
        with os.fdopen(fd, "wb" if binary else "w", encoding=None if binary else "utf-8",
                       newline=None if binary else "") as f:
            yield f
        check_target(path)  # it may have changed while we wrote
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()


def _existing_mode(path: Path) -> int | None:
    try:
        return stat.S_IMODE(os.stat(path).st_mode)
    except FileNotFoundError:
        return None


def write_file(path: str | Path, data: str | bytes) -> None:
    """Write `data` (text as UTF-8) to `path` by the rules above."""
    binary = isinstance(data, bytes)
    with open_for_write(path, binary=binary) as f:
        f.write(data)
