"""What changed since the previous report: a ledger of every report build, one row per experiment.

The ledger is a CSV a person can read (config `ledger`, results/ledger/reports.csv by default). It is no
job's output, so Snakemake never deletes it before a rerun; only the report step reads or writes it,
after the PDF is written, and always as a whole new file moved into place. Its history is kept: each
build appends its rows, numbered by `build`.
"""

from __future__ import annotations

import hashlib
import json
import math
from pathlib import Path

import pandas as pd

from lessonbench import fileio
from lessonbench.analysis import stats
from lessonbench.spec.config import flatten, training_spec
from lessonbench.spec.files import canonical_json

COLUMNS = ["build", "date", "experiment", "spec_hash", "settings", "seeds", "test_accuracy_mean",
           "test_accuracy_ci_low", "test_accuracy_ci_high", "seed_accuracies"]


def entries(specs: dict, runs: pd.DataFrame, board: pd.DataFrame, build: int, date: str) -> pd.DataFrame:
    """This build's rows: each experiment's training settings, hash and test accuracy (mean, interval, per seed)."""
    rows = []
    for exp, spec in specs.items():
        train = training_spec(spec)
        row = board[board["experiment"] == exp]
        seeds = runs[runs["experiment"] == exp].sort_values("seed")
        rows.append({
            "build": build, "date": date, "experiment": exp,
            "spec_hash": hashlib.sha256(canonical_json(train).encode()).hexdigest()[:12],
            "settings": canonical_json(flatten(train)), "seeds": len(seeds),
            "test_accuracy_mean": float(row["test_accuracy_mean"].iloc[0]) if len(row) else math.nan,
            "test_accuracy_ci_low": float(row["test_accuracy_ci_low"].iloc[0]) if len(row) else math.nan,
            "test_accuracy_ci_high": float(row["test_accuracy_ci_high"].iloc[0]) if len(row) else math.nan,
            "seed_accuracies": " ".join(f"{v:.6f}" for v in seeds["final_test_accuracy"]),
        })
    return pd.DataFrame(rows, columns=COLUMNS)


def read(path) -> pd.DataFrame:
    path = Path(path)
    if not path.exists():
        return pd.DataFrame(columns=COLUMNS)
    return pd.read_csv(path, dtype={"spec_hash": str, "seed_accuracies": str, "settings": str},
                       keep_default_na=False, na_values=[""])


def previous(ledger: pd.DataFrame) -> pd.DataFrame:
    """The last build's rows (empty when there was no report before)."""
    if ledger.empty:
        return ledger
    return ledger[ledger["build"] == ledger["build"].max()]


def seed_values(text) -> list[float]:
    return [float(v) for v in str(text).split()] if isinstance(text, str) and text.strip() else []


def value_text(value) -> str:
    """A setting's value as the changes table shows it: '–' when absent, strings quoted, floats short."""
    if value is None:
        return "–"
    if isinstance(value, str):
        return json.dumps(value)
    return f"{value:g}" if isinstance(value, float) else str(value)


def changes(before: pd.DataFrame, now: pd.DataFrame) -> dict:
    """Experiments added, removed and changed (settings or results) between two builds' rows."""
    old = {r["experiment"]: r for r in before.to_dict("records")}
    new = {r["experiment"]: r for r in now.to_dict("records")}
    changed = []
    for exp, row in new.items():
        if exp not in old:
            continue
        prev = old[exp]
        a, b = json.loads(prev["settings"]), json.loads(row["settings"])
        settings = [f"{key} {value_text(a.get(key))} → {value_text(b.get(key))}"
                    for key in sorted(set(a) | set(b)) if a.get(key) != b.get(key)]
        prev_seeds, new_seeds = seed_values(prev["seed_accuracies"]), seed_values(row["seed_accuracies"])
        if not settings and str(prev["seed_accuracies"]) == str(row["seed_accuracies"]):  # as written: nan == nan
            continue
        paired = None
        if len(prev_seeds) == len(new_seeds) and new_seeds:  # seeds 0..n-1 in both: differences pair up
            paired = stats.mean_test([n - p for n, p in zip(new_seeds, prev_seeds)])
        changed.append({"experiment": exp, "settings": settings or ["same settings; new results (code or data)"],
                        "before": prev, "now": row, "paired": paired})
    return {"first": before.empty, "build": int(before["build"].max()) if not before.empty else None,
            "date": before["date"].iloc[0] if not before.empty else None,
            "added": [new[e] for e in new if e not in old], "removed": [old[e] for e in old if e not in new],
            "changed": changed}


def append(path, ledger: pd.DataFrame, rows: pd.DataFrame) -> None:
    """The ledger with this build's rows added, written whole and moved into place."""
    fileio.write_csv(pd.concat([ledger, rows], ignore_index=True) if not ledger.empty else rows, path)
