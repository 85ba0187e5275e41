"""The test set as the seeds saw it: per seed and test sample, right or wrong (what a two-way interval resamples)."""

from __future__ import annotations

import pandas as pd


def right_wrong(probs: pd.DataFrame, experiment: str, seeds=None) -> pd.DataFrame:
    """seeds x test samples of one experiment: 1.0 where the seed's model got the sample right, else 0.0
    (`seeds`: only those rows)."""
    mine = probs[probs["experiment"] == experiment]
    if seeds is not None:
        mine = mine[mine["seed"].isin(list(seeds))]
    right = (mine["pred"] == mine["label"]).astype(float).to_numpy()
    frame = pd.DataFrame({"seed": mine["seed"].to_numpy(), "sample": mine["sample"].to_numpy(), "right": right})
    return frame.pivot(index="seed", columns="sample", values="right").sort_index().sort_index(axis=1)
