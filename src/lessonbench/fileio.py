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


def write_table(frame, path, store: str = "", by: str | None = None) -> None:
    """Write `path` as .parquet for the pipeline and the same name as .csv beside it for people.

    store and by: the CSV's rows are formatted one run of equal `by` values at a time (one experiment's rows),
    each kept in the store by content and read back when the same rows come again: the same file, without
    formatting again the numbers of the experiments an edit left alone (most of the tables' time)."""
    stem = Path(path).with_suffix("")
    write_parquet(frame, f"{stem}.parquet")
    if store and by and len(frame):
        write_bytes(csv_in_parts(frame, by, store), f"{stem}.csv")
    else:
        write_csv(frame, f"{stem}.csv", float_format=FLOAT_FORMAT)


def csv_in_parts(frame, by: str, store: str) -> bytes:
    """frame.to_csv(index=False, float_format=FLOAT_FORMAT) as UTF-8, its header and then each run of equal `by` values
    formatted alone, from the store where it holds that run's text. Each cell is formatted on its own (its
    column's dtype in the whole frame, which keys the run), so the parts join into the same text."""
    import hashlib

    import numpy as np
    import pandas as pd

    from lessonbench.store import code_digest, kept

    column = frame[by]
    changed = (column != column.shift()).fillna(True).to_numpy(dtype=bool)
    starts = [0, *(np.flatnonzero(changed[1:]) + 1).tolist(), len(frame)]
    shape = json.dumps([[str(name), str(dtype)] for name, dtype in frame.dtypes.items()]).encode()
    texts = [frame.iloc[:0].to_csv(None, index=False).encode()]
    for start, stop in zip(starts[:-1], starts[1:]):
        part = frame.iloc[start:stop]
        digest = hashlib.sha256(b"\0".join([b"csv rows", pd.__version__.encode(), FLOAT_FORMAT.encode(),
                                            code_digest().encode(), shape]))
        for name in part.columns:
            values = part[name]
            if isinstance(values.dtype, np.dtype) and values.dtype.kind in "biuf":
                digest.update(np.ascontiguousarray(values.to_numpy()).tobytes())
            else:  # text, nullable integers: each value's repr, and where the gaps are
                digest.update("\x1f".join(map(repr, values.tolist())).encode())
                digest.update(values.isna().to_numpy().tobytes())
        rows = kept(store, digest.hexdigest(),
                    lambda part=part: {"rows.csv": part.to_csv(None, index=False, header=False,
                                                               float_format=FLOAT_FORMAT).encode()},
                    {"step": "csv rows", "what": f"{by}={column.iloc[start]}"})
        texts.append(rows["rows.csv"])
    return b"".join(texts)


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
