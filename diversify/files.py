"""Writing an output file so that nothing is lost: beside its target, then renamed."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from diversify.errors import DiversifyError, UsageError


def check_writable(path: Path) -> None:
    """Can a file be written at `path`? UsageError (exit 2) saying why not, before any
    work is done: its folder, or the nearest one that exists (the writer makes the
    rest), must be a folder that takes a new file, tried by making one (permissions
    alone do not tell: root, read-only mounts, /proc)."""
    folder = Path(path).resolve().parent
    while not folder.exists():
        folder = folder.parent
    if not folder.is_dir():
        raise UsageError(f"{path}: cannot be written, {folder} is a file, not a folder")
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{Path(path).name}.", suffix=".check", dir=folder)
    except OSError as e:
        raise UsageError(f"{path}: cannot be written in {folder} ({e.strerror or e})") from e
    os.close(fd)
    os.unlink(tmp)


@contextmanager
def replaced_atomically(path: Path, suffix: str = ".tmp") -> Iterator[Path]:
    """A temporary file beside `path` (ending in `suffix`) for the block to write; once
    the block is done it is renamed onto `path` with the permissions of any file the
    planner creates (umask, not a temporary file's owner-only ones). On an error or
    Ctrl-C it is removed: no half-written file, and `path` as it was. The folder is made
    if need be. A file system's refusal (a full disk, say) is a DiversifyError naming
    the file, not a traceback."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=suffix, dir=path.parent)
    except OSError as e:
        raise DiversifyError(f"{path} could not be written: {e.strerror or e}") from e
    os.close(fd)
    try:
        yield Path(tmp)
        os.chmod(tmp, 0o666 & ~_umask())
        os.replace(tmp, path)
    except OSError as e:
        Path(tmp).unlink(missing_ok=True)
        raise DiversifyError(f"{path} could not be written: {e.strerror or e}") from e
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask
