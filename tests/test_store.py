"""The store: a job's files come back only for the same step, settings, input bytes and code; one writer."""

from __future__ import annotations

import subprocess
import sys
import time

from lessonbench import store


def job(tmp_path, value: str, store_dir):
    """A fake job writing `value`; returns (reused, calls) after one reuse_or_run."""
    calls = []
    inputs = {"data": tmp_path / "data.txt"}
    outputs = {"result": str(tmp_path / "out" / "result.txt")}

    def run():
        calls.append(value)
        (tmp_path / "out").mkdir(exist_ok=True)
        (tmp_path / "out" / "result.txt").write_text(f"computed from {value}")

    reused = store.reuse_or_run(store_dir, "train", {"lr": value}, inputs, outputs, run, lambda m: None, "test job")
    return reused, calls


def test_same_job_is_reused_and_any_change_runs(tmp_path, monkeypatch):
    (tmp_path / "data.txt").write_text("data")
    s = tmp_path / "store"
    assert job(tmp_path, "0.01", s) == (False, ["0.01"])
    assert job(tmp_path, "0.005", s) == (False, ["0.005"])
    (tmp_path / "out" / "result.txt").unlink()
    assert job(tmp_path, "0.01", s) == (True, [])  # a revert: copied back, nothing computed
    assert (tmp_path / "out" / "result.txt").read_text() == "computed from 0.01"
    (tmp_path / "data.txt").write_text("other data")  # other input bytes: another key
    assert job(tmp_path, "0.01", s) == (False, ["0.01"])
    monkeypatch.setattr(store, "code_digest", lambda: "edited code")  # other code: another key
    assert job(tmp_path, "0.01", s) == (False, ["0.01"])
    assert job(tmp_path, "0.01", "") == (False, ["0.01"])  # no store: always computed


LOCK_HOLDER = """
import sys, time
from lessonbench import store
with store.exclusive({"result": sys.argv[1]}, print):
    print("locked", flush=True)
    time.sleep(2)
"""


def test_second_writer_waits_for_the_first(tmp_path):
    out = str(tmp_path / "out" / "result.txt")
    holder = subprocess.Popen([sys.executable, "-c", LOCK_HOLDER, out], stdout=subprocess.PIPE, text=True)
    assert holder.stdout.readline().strip() == "locked"
    messages = []
    start = time.monotonic()
    with store.exclusive({"result": out}, messages.append):
        waited = time.monotonic() - start
    holder.wait(timeout=30)
    assert waited > 0.5 and "waiting: another job is still writing" in messages[0]


def test_csv_rows_from_the_store_make_the_same_file_and_an_edit_formats_only_its_rows(tmp_path, monkeypatch):
    """A long table's CSV written in parts (one experiment's rows each, kept by content) is byte for byte the
    CSV pandas writes at once, gaps, text and nullable integers included; changing one experiment's numbers
    formats only its rows again, even a change the CSV's six figures do not show (the key is the bits)."""
    import numpy as np
    import pandas as pd

    from lessonbench import fileio, tables

    rng = np.random.default_rng(1)
    frame = pd.DataFrame({"experiment": np.repeat(["a", "b, quoted", "c"], [5, 4, 6]),
                          "seed": np.arange(15), "value": rng.random(15) * 1e-3,
                          "diverged": pd.array([None, 3] + [None] * 13, dtype="Int64"),
                          "split": ["train", None, "val"] * 5})
    frame.loc[7, "value"] = np.nan
    frame["experiment"] = frame["experiment"].astype("str")
    whole = tmp_path / "whole.csv"
    frame.to_csv(whole, index=False, float_format=fileio.FLOAT_FORMAT)
    formatted = []
    real = pd.DataFrame.to_csv
    monkeypatch.setattr(pd.DataFrame, "to_csv",
                        lambda self, *a, **k: formatted.append(len(self)) or real(self, *a, **k))
    tables.write_by_experiment(frame, tmp_path / "t", str(tmp_path / "store"))
    assert (tmp_path / "t.csv").read_bytes() == whole.read_bytes()
    assert sorted(formatted) == [0, 4, 5, 6]  # the header, then each experiment's rows

    formatted.clear()
    frame.loc[frame["experiment"] == "c", "value"] += 1e-12  # beyond the CSV's 6 figures: another key all the same
    tables.write_by_experiment(frame, tmp_path / "t", str(tmp_path / "store"))
    assert sorted(formatted) == [0, 6]
    real(frame, whole, index=False, float_format=fileio.FLOAT_FORMAT)
    assert (tmp_path / "t.csv").read_bytes() == whole.read_bytes()


def test_a_kept_value_is_made_once_per_key_and_every_time_without_a_store(tmp_path):
    made = []

    def make():
        made.append(1)
        return {"a.bin": b"\x00one", "b.txt": b"two"}

    for _ in range(2):
        assert store.kept(str(tmp_path / "s"), "ab" * 32, make, {"step": "test"}) == make()
    assert len(made) == 3  # the first call, and the two comparisons: the second call read it back
    assert store.kept("", "ab" * 32, make, {}) == {"a.bin": b"\x00one", "b.txt": b"two"} and len(made) == 4
