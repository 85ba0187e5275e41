"""Several search workers share one Optuna study in a real PostgreSQL server.

setup.sh installs Debian's postgresql; this module starts a throwaway server of its own (initdb in a
temporary directory, a free port on 127.0.0.1) and stops it afterwards.
"""

from __future__ import annotations

import json
import os
import pwd
import shutil
import socket
import subprocess
import sys
import tempfile
from pathlib import Path

import optuna
import pytest

from lessonbench.engine.data import fit_scaler
from lessonbench.fileio import write_json, write_parquet
from lessonbench.jobs.search import run_search, search_data
from lessonbench.spec.files import canonical_json
from lessonbench.spec.studies import resolve_search

from .conftest import ROOT, missing

BINDIRS = sorted(Path("/usr/lib/postgresql").glob("*/bin"))


def as_postgres(cmd: list[str]) -> list[str]:
    """Run as the postgres user when we are root (PostgreSQL refuses to run as root)."""
    return ["runuser", "-u", "postgres", "--", *cmd] if os.geteuid() == 0 else cmd


@pytest.fixture(scope="module")
def postgres():
    if not BINDIRS:
        missing("PostgreSQL is not installed (./setup.sh --tests installs Debian's postgresql)")
    bindir = BINDIRS[-1]
    root = Path(tempfile.mkdtemp(prefix="lessonbench-pg-"))
    data = root / "data"
    if os.geteuid() == 0:
        user = pwd.getpwnam("postgres")
        os.chown(root, user.pw_uid, user.pw_gid)
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    run = dict(check=True, capture_output=True, text=True)
    subprocess.run(as_postgres([str(bindir / "initdb"), "-D", str(data), "-A", "trust", "-U", "lessonbench",
                                "--no-sync"]), **run)
    subprocess.run(as_postgres([str(bindir / "pg_ctl"), "-D", str(data), "-w", "-l", str(root / "server.log"), "-o",
                                f"-p {port} -k {root} -c listen_addresses=127.0.0.1", "start"]), **run)
    try:
        subprocess.run([str(bindir / "createdb"), "-h", "127.0.0.1", "-p", str(port), "-U", "lessonbench",
                        "lessonbench"], **run)
        yield f"postgresql+psycopg2://lessonbench@127.0.0.1:{port}/lessonbench"
    finally:
        subprocess.run(as_postgres([str(bindir / "pg_ctl"), "-D", str(data), "-m", "immediate", "stop"]),
                       capture_output=True)
        shutil.rmtree(root, ignore_errors=True)


def test_two_workers_share_one_study(postgres, lesson, split_frame, tmp_path):
    resolved = resolve_search(ROOT / "experiments" / "search.yaml", lesson[1])
    base = resolved.pop("base_spec")
    settings = {**resolved, "rounds": 2, "trials_per_round": 6, "epochs": 2, "keep_top": 3}
    train_val = split_frame[split_frame["split"] != "test"].reset_index(drop=True)
    write_parquet(train_val, tmp_path / "train_val.parquet")
    scaler = fit_scaler(split_frame, "train")
    write_json(scaler, tmp_path / "scaler.json")
    (tmp_path / "settings.json").write_text(canonical_json(settings))
    (tmp_path / "base.json").write_text(canonical_json(base))
    (tmp_path / "dataset.json").write_text(canonical_json({"classes": [str(c) for c in range(10)]}))
    def job(worker: int) -> str:  # what the search_worker rule hands its step
        return json.dumps({
            "input": {"settings": str(tmp_path / "settings.json"), "base": str(tmp_path / "base.json"),
                      "train_val": str(tmp_path / "train_val.parquet"), "scaler": str(tmp_path / "scaler.json"),
                      "dataset": str(tmp_path / "dataset.json")},
            "output": {"output": str(tmp_path / f"worker-{worker}.json")},
            "params": {"search_seed": 0, "worker": worker, "workers": 2, "storage": postgres, "threads": 1,
                       "device": "cpu"}})

    workers = [subprocess.Popen([sys.executable, "-m", "lessonbench", "search_worker", job(w)], stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT, text=True) for w in range(2)]
    logs = [w.communicate(timeout=600)[0] for w in workers]
    assert [w.returncode for w in workers] == [0, 0], logs
    counts = [json.loads((tmp_path / f"worker-{w}.json").read_text())["trials_trained"] for w in range(2)]
    # together all 12; which worker trains which depends on timing (a worker asks for every trial left in the
    # round and trains them stacked; a fast one may take both rounds), but both joined the one study
    assert sum(counts) >= 12, (counts, logs)
    assert all(f"search worker {w} of 2" in log for w, log in enumerate(logs)), logs
    names = [s for s in optuna.get_all_study_names(postgres) if s.startswith("random-0-")]
    assert len(names) == 1  # one study
    data = search_data(train_val, scaler)
    shared, timing = run_search("random", 0, settings, base, data, postgres, log=lambda message: None)
    assert timing["trials_trained"] == 0 and len(shared) == 12  # everything was read back from the study
    alone, _ = run_search("random", 0, settings, base, data, f"sqlite:///{tmp_path}/alone.db",
                          log=lambda message: None)
    import pandas as pd
    pd.testing.assert_frame_equal(shared, alone)  # the same trials and choice as one worker on SQLite
