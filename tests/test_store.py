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
