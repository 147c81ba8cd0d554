"""Writing output files so that an error never leaves a half-written or emptied file.

Every file alignkit writes whole goes through :func:`atomic_path` (or :func:`write_text_atomic`): the
content is written to a temporary file in the same folder and renamed over the target only when it is
complete, so a crash, a kill or an exception leaves the previous file as it was. :func:`check_not_input`
refuses an output that is one of the inputs (the same file under another name or through a symlink
included), before anything is opened for writing.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path

from alignkit.core.errors import ConfigError

__all__ = ["atomic_path", "check_not_input", "same_file", "write_text_atomic"]


def same_file(a: str | os.PathLike[str], b: str | os.PathLike[str]) -> bool:
    """Whether ``a`` and ``b`` name the same file (symlinks and hard links included); False if either is missing."""
    try:
        return os.path.samefile(a, b)
    except OSError:
        return Path(a).resolve() == Path(b).resolve()


def check_not_input(
    output: str | os.PathLike[str], inputs: Iterable[str | os.PathLike[str]], flag: str = "--output"
) -> None:
    """A :class:`ConfigError` when ``output`` is one of ``inputs``: writing it would destroy what is read."""
    for src in inputs:
        if same_file(output, src):
            raise ConfigError(f"{flag} {output} is the input file {src}; write the results to another file")


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike[str]) -> Iterator[Path]:
    """A temporary path next to ``path``; on a clean exit it is fsynced and renamed onto ``path``, on an
    error it is removed and ``path`` keeps its old content (or stays absent).

    A symlink at ``path`` is followed: its target is replaced, the link stays."""
    target = Path(os.path.realpath(path))
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        yield tmp
        with tmp.open("rb") as fh:
            os.fsync(fh.fileno())
        if target.exists():
            os.chmod(tmp, target.stat().st_mode & 0o7777)
        else:
            os.chmod(tmp, 0o666 & ~_umask())
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)


def write_text_atomic(path: str | os.PathLike[str], text: str) -> None:
    """Write ``text`` (UTF-8) to ``path`` atomically: readers see the old file or the whole new one."""
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")


def _umask() -> int:
    """The process umask, read without changing it (``os.umask`` would, racing other threads)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    return 0o022


def read_limited(path: str | os.PathLike[str], what: str, max_bytes: int) -> bytes:
    """The bytes of ``path``; a ConfigError naming ``what`` it is when it cannot be read or is too large."""
    p = Path(path)
    try:
        with p.open("rb") as f:
            data = f.read(max_bytes + 1)
    except OSError as e:
        raise ConfigError(f"cannot read the {what} {p}: {e.strerror or e}") from None
    if len(data) > max_bytes:
        raise ConfigError(f"{p}: the {what} is over {max_bytes:,} bytes")
    return data
