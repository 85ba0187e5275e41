"""The digits split and its scaler: made once by prepare_data, read by every training job."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from lessonbench.fileio import log, write_json, write_parquet

if TYPE_CHECKING:
    import torch

PIXELS = [f"pixel_{i}" for i in range(64)]


def split_digits(data: dict) -> pd.DataFrame:
    """One row per sample: index in load_digits, split (train/val/test), label and raw pixels.

    The split reproduces the lesson's two train_test_split calls exactly: 20% test,
    then `val_size` validation samples out of the rest, both with `split_seed`.
    """
    from sklearn.datasets import load_digits  # here, not at the top: training jobs never need sklearn (~1 s)
    from sklearn.model_selection import train_test_split

    digits = load_digits()
    index = np.arange(len(digits.target))
    rest, test = train_test_split(index, test_size=data["test_size"], random_state=data["split_seed"])
    train, val = train_test_split(rest, test_size=data["val_size"], random_state=data["split_seed"])
    parts = [("train", train), ("val", val), ("test", test)]
    frame = pd.DataFrame(
        {
            "sample": np.concatenate([idx for _, idx in parts]),
            "split": np.concatenate([[name] * len(idx) for name, idx in parts]),
        }
    )
    frame["label"] = digits.target[frame["sample"]]
    pixels = pd.DataFrame(digits.data[frame["sample"]], columns=PIXELS)
    return pd.concat([frame, pixels], axis=1)


def fit_scaler(frame: pd.DataFrame, scaler_fit: str) -> dict:
    """Per-pixel mean and scale of StandardScaler fitted on the training part, or on all samples."""
    from sklearn.preprocessing import StandardScaler

    rows = frame if scaler_fit == "all" else frame[frame["split"] == "train"]
    scaler = StandardScaler().fit(rows[PIXELS].to_numpy())
    return {"fit_on": scaler_fit, "n_samples": len(rows),
            "mean": scaler.mean_.tolist(), "scale": scaler.scale_.tolist()}


def read_scaler(path) -> dict:
    with open(path) as fh:
        return json.load(fh)


def load_part(frame: pd.DataFrame, scaler: dict, part: str) -> tuple[torch.Tensor, torch.Tensor]:
    """Standardised features (float32) and labels (int64) of one split part."""
    import torch  # here: the figure steps read PIXELS and need no torch (a second of start-up)

    rows = frame[frame["split"] == part]
    x = (rows[PIXELS].to_numpy() - np.asarray(scaler["mean"])) / np.asarray(scaler["scale"])
    return torch.tensor(x, dtype=torch.float32), torch.tensor(rows["label"].to_numpy(), dtype=torch.int64)


def prepare_data_step(args) -> None:
    settings = args.data
    frame = split_digits(settings)
    write_parquet(frame, args.split)
    write_parquet(frame[frame["split"] != "test"].reset_index(drop=True), args.train_val)  # all the search may read
    write_json(fit_scaler(frame, settings["scaler_fit"]), args.scaler)
    log(f"split {frame['split'].value_counts().to_dict()}; scaler fitted on {settings['scaler_fit']}")
