"""The split and scaler reproduce the lesson's code; the default scaler sees training data only."""

from __future__ import annotations

import numpy as np
import torch
from sklearn import datasets
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import StandardScaler

from lessonbench.engine.data import PIXELS, fit_scaler, load_part


def lesson_split():
    """The lesson's own code, verbatim in substance: scale on all, then two splits."""
    digits = datasets.load_digits()
    x = StandardScaler().fit(digits.data).transform(digits.data)
    train_x, test_x, train_y, test_y = train_test_split(x, digits.target, test_size=0.2, random_state=42)
    train_x, val_x, train_y, val_y = train_test_split(train_x, train_y, test_size=360, random_state=42)
    return {"train": (train_x, train_y), "val": (val_x, val_y), "test": (test_x, test_y)}


def test_split_sizes_and_disjoint(split_frame):
    assert split_frame["split"].value_counts().to_dict() == {"train": 1077, "val": 360, "test": 360}
    assert split_frame["sample"].is_unique and len(split_frame) == 1797


def test_scaler_all_reproduces_the_lesson_exactly(split_frame):
    scaler = fit_scaler(split_frame, "all")
    for part, (x, y) in lesson_split().items():
        ours_x, ours_y = load_part(split_frame, scaler, part)
        assert torch.equal(ours_y, torch.LongTensor(y))
        assert torch.equal(ours_x, torch.FloatTensor(x)), part


def test_default_scaler_uses_training_rows_only(split_frame):
    scaler = fit_scaler(split_frame, "train")
    train = split_frame[split_frame["split"] == "train"][PIXELS].to_numpy()
    assert scaler["n_samples"] == 1077
    np.testing.assert_allclose(scaler["mean"], train.mean(0))
    x, _ = load_part(split_frame, scaler, "train")
    np.testing.assert_allclose(x.mean(0).numpy(), 0, atol=1e-5)
