"""Results kept by content, and one writer per output.

A training (or sweep) job's files are stored under a key: the SHA-256 of everything that decides their
bytes (the step, its settings, the bytes of the files it reads, every source file of this package, the
torch and Python versions). When the same key comes back (an edit reverted), the stored files are copied
into place and nothing trains; any other spec, data or code gives another key, so a stored result is
never handed to a job it does not belong to. The store is a folder (config `store`); delete it to retrain
everything.

`exclusive` takes an advisory lock on a job's first output for the whole job (a lock file named after the
output's absolute path, under .snakemake/lessonbench-locks/ beside Snakemake's own locks, so nothing is
added to the results): a second job for the same outputs (Snakemake killed and rerun while the first job
still runs) waits for the first, says so in its log, and then finds the first job's results in the store.
The operating system drops the lock of a killed process, so no lock outlives its job.
"""

from __future__ import annotations

import fcntl
import functools
import hashlib
import json
import os
import platform
import shutil
import tempfile
from contextlib import contextmanager
from pathlib import Path

from lessonbench import fileio

PACKAGE = Path(__file__).resolve().parent
LOCKS = Path(".snakemake") / "lessonbench-locks"  # relative to the job's working directory, the workflow's


def file_digest(path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


@functools.cache
def code_digest() -> str:
    """Every source file of the package, in every folder, by its path: any code edit (or a module moved) changes
    every key, never a stale reuse. Read once a process: a job's code does not change while it runs."""
    digest = hashlib.sha256()
    for path in sorted(PACKAGE.rglob("*.py")):
        digest.update(path.relative_to(PACKAGE).as_posix().encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()


def key(step: str, settings, inputs: dict[str, str], torch_version: str | None = None) -> str:
    """The content key of one job: its step, settings, the bytes of its input files, the code and versions.

    torch_version: torch's, where torch is not imported (the workflow's forecast of what is kept, from the
    installed package's metadata); by default the imported torch's."""
    if torch_version is None:
        import torch

        torch_version = torch.__version__
    payload = {"step": step, "settings": settings, "inputs": {name: file_digest(p) for name, p in inputs.items()},
               "code": code_digest(), "torch": torch_version, "python": platform.python_version()}
    return hashlib.sha256(json.dumps(payload, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


def sweep_point_key(spec: dict, seeds: list[int], device: str, key_inputs: dict, threads: int,
                    torch_version: str | None = None) -> str:
    """A sweep point's key: its training spec (the swept value set), seeds, data and code, not the sweep's.
    The sweep job keeps and fetches its points under it (sweeps.point_key); the workflow asks the same key
    before the job runs, to know whether the job will train (common.smk, sweep_points_kept)."""
    return key("sweep_point", {"spec": spec, "seeds": seeds, "threads": threads, "device": device}, key_inputs,
               torch_version)


def has(store, job_key: str) -> bool:
    """Whether the store holds a complete entry under this key."""
    return bool(store) and (Path(store) / job_key[:2] / job_key / "complete.json").exists()


@contextmanager
def exclusive(outputs: dict[str, str], log):
    """Hold the lock of these outputs (a file beside the first) for the block; wait while another job has it."""
    first = Path(next(iter(outputs.values())))
    name = hashlib.sha256(str(first.resolve()).encode()).hexdigest()[:20]
    lock_path = LOCKS / f"{first.parent.name}-{first.name}-{name}.lock"
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    with open(lock_path, "a") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            log(f"waiting: another job is still writing {first} (a Snakemake that was stopped left it running); "
                "this job waits for it to finish, then uses its results")
            fcntl.flock(lock, fcntl.LOCK_EX)
            log("the other job finished; going on")
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def fetch(store, job_key: str, outputs: dict[str, str]) -> Path | None:
    """Copy a stored result into place (each file atomically); the entry's folder, or None if not stored."""
    if not has(store, job_key):
        return None
    entry = Path(store) / job_key[:2] / job_key
    for name, path in outputs.items():
        with fileio.atomic_path(path) as tmp:
            shutil.copyfile(entry / name, tmp)
    return entry


def keep(store, job_key: str, outputs: dict[str, str], about: dict) -> None:
    """Store a job's finished outputs under its key: a complete entry appears at once (a folder renamed)."""
    if not store:
        return
    entry = Path(store) / job_key[:2] / job_key
    if (entry / "complete.json").exists():
        return
    entry.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=entry.parent, prefix=f".{job_key}."))
    try:
        for name, path in outputs.items():
            shutil.copyfile(path, tmp / name)
        (tmp / "complete.json").write_text(json.dumps(about, sort_keys=True, indent=1) + "\n")
        os.replace(tmp, entry)
    except OSError:
        if (entry / "complete.json").exists():  # another job stored the same result first
            return
        raise
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)


def reuse_or_run(store, step: str, settings, inputs: dict[str, str], outputs: dict[str, str], run, log,
                 what: str) -> bool:
    """Under the outputs' lock: copy the stored result of this exact job, or `run()` it and store what it wrote.

    Returns True when the result came from the store (nothing was computed)."""
    with exclusive(outputs, log):
        job_key = key(step, settings, inputs)
        entry = fetch(store, job_key, outputs)
        if entry is not None:
            log(f"{what}: reused the stored result {job_key[:12]} ({entry}): same settings, data and code; "
                "nothing trained")
            return True
        run()
        keep(store, job_key, outputs, {"step": step, "what": what})
        return False
