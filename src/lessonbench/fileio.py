"""Atomic file writes: a reader never sees half a file, a crash leaves no complete-looking output."""

from __future__ import annotations

import json
import os
import tempfile
from contextlib import contextmanager
from pathlib import Path


@contextmanager
def atomic_path(path):
    """Yield a temporary path beside `path`; move it into place only if the block succeeds."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(tmp, 0o666 & ~umask)  # mkstemp makes 0600; give the file the usual permissions
    try:
        yield Path(tmp)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def write_parquet(frame, path) -> None:
    with atomic_path(path) as tmp:
        frame.to_parquet(tmp, index=False)


def write_csv(frame, path, **kwargs) -> None:
    with atomic_path(path) as tmp:
        frame.to_csv(tmp, index=False, **kwargs)


FLOAT_FORMAT = "%.6g"  # the CSV tables' numbers


def write_table(frame, path) -> None:
    """Write `path` as .parquet for the pipeline and the same name as .csv beside it for people."""
    stem = Path(path).with_suffix("")
    write_parquet(frame, f"{stem}.parquet")
    write_csv(frame, f"{stem}.csv", float_format=FLOAT_FORMAT)


def write_json(obj, path) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(obj, indent=2, sort_keys=True) + "\n")


def write_text(text: str, path) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text(text)


def write_bytes(data: bytes, path) -> None:
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)


def log(message: str) -> None:
    """A progress line on stdout, flushed at once so a job's log can be followed live."""
    print(message, flush=True)


def decode_value(value):
    """A table cell back to its value: trial tables store booleans as JSON text (one type per column)."""
    return json.loads(value) if isinstance(value, str) and value in ("true", "false") else value
