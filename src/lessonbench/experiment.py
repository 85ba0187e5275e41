"""One training job: every seed of one experiment, written as tables, weights and timings."""

from __future__ import annotations

import io
import json
import platform
import time

import pandas as pd
import torch

from lessonbench import fileio
from lessonbench.data import load_part, read_scaler
from lessonbench.fileio import log
from lessonbench.training import history_frame, summarise_seed, train_seed


def run_experiment(exp_id: str, spec: dict, split_path, scaler_path, threads: int, log=print) -> dict:
    """Train spec['seeds'] seeds (0..seeds-1); return history, runs and test-probability frames.

    The test part is loaded only after every seed has finished training.
    """
    torch.set_num_threads(threads)  # fixed from config: 1 vs 2 threads changes the last bits
    frame, scaler = pd.read_parquet(split_path), read_scaler(scaler_path)
    data = {part: load_part(frame, scaler, part) for part in ("train", "val")}
    log(f"{exp_id}: {spec['seeds']} seeds x {spec['epochs']} epochs, "
        f"{len(data['train'][1])} train / {len(data['val'][1])} val samples, torch threads {threads}")
    runs = []
    for seed in range(spec["seeds"]):
        try:
            runs.append(train_seed(spec, seed, data, log))
        except Exception as err:
            raise RuntimeError(f"experiment {exp_id!r}, seed {seed}: training failed: {err}") from err
        log(f"{exp_id}: seed {seed} done in {runs[-1].seconds:.2f} s")
    data["test"] = load_part(frame, scaler, "test")
    data["test_samples"] = frame.loc[frame["split"] == "test", "sample"].to_numpy()
    rows, probs = zip(*(summarise_seed(run, data) for run in runs))
    history = history_frame([row for run in runs for row in run.history])
    return {
        "history": history.assign(experiment=exp_id)[["experiment", "seed", "epoch", "split", "loss", "accuracy"]],
        "runs": pd.DataFrame(rows).assign(experiment=exp_id).astype({"diverged_epoch": "Int64"}),
        "test_probs": pd.concat(probs, ignore_index=True).assign(experiment=exp_id),
        "weights": {run.seed: run.model.state_dict() for run in runs},
        "timing": {"experiment": exp_id, "seconds_per_seed": [round(r.seconds, 3) for r in runs],
                   "host": platform.node(), "cpu": platform.processor() or platform.machine(),
                   "finished_unix": int(time.time())},
    }


def write_experiment(result: dict, out: dict) -> None:
    """Write each part of run_experiment's result to the path named for it in `out`."""
    fileio.write_parquet(result["history"], out["history"])
    fileio.write_parquet(result["runs"], out["runs"])
    fileio.write_parquet(result["test_probs"], out["test_probs"])
    buffer = io.BytesIO()  # torch.save names the archive after a file's name; a buffer keeps it fixed
    torch.save(result["weights"], buffer)
    fileio.write_bytes(buffer.getvalue(), out["weights"])
    fileio.write_json(result["timing"], out["timing"])


def train_step(args) -> None:
    result = run_experiment(args.experiment, json.loads(args.spec), args.split, args.scaler, args.threads, log)
    write_experiment(result, vars(args))
    board = result["runs"]
    log(f"{args.experiment}: mean test accuracy {100 * board['final_test_accuracy'].mean():.2f}% "
        f"over {len(board)} seeds ({int(board['diverged_epoch'].notna().sum())} diverged)")
