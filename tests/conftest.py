"""Shared fixtures: the repository, the lesson's experiment file, small data for fast tests."""

from __future__ import annotations

import os
from pathlib import Path

import pandas as pd
import pytest
import torch

from lessonbench.engine import data as lesson_data
from lessonbench.engine.data import fit_scaler, load_parts
from lessonbench.spec.config import resolve_experiments
from lessonbench.spec.files import ConfigError

ROOT = Path(__file__).resolve().parents[1]
DIGITS = (64, 10)  # the lesson's data: 8x8 pixels, ten classes (a model's shape)
LESSON = ROOT / "experiments" / "lesson.yaml"


@pytest.fixture(scope="session")
def lesson():
    """(data settings, {id: spec}) of experiments/lesson.yaml."""
    return resolve_experiments([LESSON])


@pytest.fixture(scope="session")
def split_frame(lesson) -> pd.DataFrame:
    return lesson_data.split_frame(lesson[0])[0]


@pytest.fixture(scope="session")
def tensors(lesson, split_frame) -> dict:
    """Standardised train/val/test tensors of the lesson's split."""
    scaler = fit_scaler(split_frame, lesson[0]["scaler_fit"])
    return load_parts(split_frame, scaler, ("train", "val", "test"))


@pytest.fixture
def small_data(tensors) -> dict:
    """200 training and 100 validation samples: enough to train one short epoch quickly."""
    return {"train": tuple(t[:200] for t in tensors["train"]), "val": tuple(t[:100] for t in tensors["val"]),
            "shape": tensors["shape"]}


@pytest.fixture
def float64():
    """torch's default dtype float64 for one test, float32 again after it: an oracle test in float64 checks the
    mathematics, not one CPU's float32 rounding (the engine builds its tensors in the default dtype)."""
    before = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    yield
    torch.set_default_dtype(before)


@pytest.fixture
def small_data64(small_data, float64) -> dict:
    """small_data in float64 (the features; labels stay int64), with the default dtype float64."""
    return {part: (value[0].double(), value[1]) if part != "shape" else value for part, value in small_data.items()}


def missing(why: str) -> None:
    """A test whose software is not installed: in CI (CI=true) that fails the run; elsewhere it skips, saying why."""
    if os.environ.get("CI") == "true":
        pytest.fail(f"CI: {why}")
    pytest.skip(why)


def assert_names_field(source: Path, change: tuple[str, str], resolve, field: str, tmp_path: Path) -> None:
    """Copy `source` with one text change, resolve it, and check the ConfigError names `field`."""
    text = source.read_text()
    assert change[0] in text
    path = tmp_path / source.name
    path.write_text(text.replace(*change))
    with pytest.raises(ConfigError) as err:
        resolve(path)
    assert f": {field}:" in str(err.value), str(err.value)


def probs_for(runs: pd.DataFrame, samples: int = 360) -> pd.DataFrame:
    """Test predictions that give each run its final test accuracy: the first round(accuracy x samples) of the
    same `samples` test samples right, the rest wrong (what a claim or leaderboard reads of test_probs), with the
    ten classes' probability columns."""
    rows = []
    for run in runs.itertuples():
        right = 0 if pd.isna(run.final_test_accuracy) else round(run.final_test_accuracy * samples)
        rows += [{"experiment": run.experiment, "seed": run.seed, "sample": i, "label": 1, "pred": int(i < right)}
                 for i in range(samples)]
    frame = pd.DataFrame(rows)
    for c in range(DIGITS[1]):  # the digits' ten classes, each prediction certain, as test_probs has them
        frame[f"prob_{c}"] = (frame["pred"] == c).astype(float) if len(frame) else pd.Series(dtype=float)
    return frame
