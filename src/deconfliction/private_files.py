"""Files that hold registry, audit or credential data: created 0600, replaced atomically.

Every file the CLI writes with such data (``export --out``, ``audit export --out``, the
review's files, TAK keys, certificates and data packages) goes through :func:`open_private`
(``docs/design/security.md``, "Files and the review, bounded"):

* the data goes to a temporary file in the target's folder, created with
  ``O_CREAT | O_EXCL`` and mode 0600, so it is never readable by others, not even while
  being written; the umask can only make it stricter (no ``chmod`` widens it afterwards);
* on success it is flushed, synced and renamed over the target: an existing file (of any
  mode) is replaced by the new 0600 one in one step, never rewritten in place; a reader sees
  the old file or the whole new one;
* on failure the temporary file is removed and the target is left as it was.
"""

from __future__ import annotations

import contextlib
import io
import os
import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO, TextIO

#: Owner read and write, nothing for the group or others.
PRIVATE_MODE = 0o600
#: A folder made for private files: only the owner may list or enter it.
PRIVATE_DIR_MODE = 0o700


def private_dir(path: Path) -> None:
    """Make ``path`` (and its parents) 0700 if missing; an existing folder keeps its mode."""
    path.mkdir(mode=PRIVATE_DIR_MODE, parents=True, exist_ok=True)


@contextlib.contextmanager
def _beside(path: Path) -> Iterator[BinaryIO]:
    """A new 0600 temporary file in ``path``'s folder, renamed over ``path`` on success."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(6)}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, PRIVATE_MODE)
    try:
        with os.fdopen(fd, "wb") as raw:
            yield raw
            raw.flush()
            os.fsync(raw.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise
    _sync_folder(path.parent)


@contextlib.contextmanager
def open_private(path: Path) -> Iterator[TextIO]:
    """A UTF-8 text file to write ``path`` through; ``path`` appears (0600) only when the
    ``with`` block ends without an exception."""
    with _beside(path) as raw:
        text = io.TextIOWrapper(raw, encoding="utf-8", newline="")
        try:
            yield text
            text.flush()
        finally:
            text.detach()  # the raw file is closed by _beside


def write_private(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` atomically, readable by the owner only (0600)."""
    with _beside(path) as raw:
        raw.write(data)


def _sync_folder(folder: Path) -> None:
    """Make the rename durable (best effort: some file systems refuse a folder's fsync)."""
    with contextlib.suppress(OSError):
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
