"""Sensitivity sweeps: one experiment at every value of one hyperparameter, the best value chosen on validation.

Each value's seeds train as one stack through training.train_stack with the experiment's spec and that
one value changed, so a point gives the same bits as the experiment with that value trained alone (it
*is* that experiment). The point at the experiment's own value is read back from the experiment's
files (seed k is bit-identical whatever else trains beside it), not trained again. The best value is
the one with the highest mean final validation accuracy (a diverged seed counts at chance); only that
point is then scored on the test set, once, and written as the experiment `<sweep>_best`.

With a store (config `store`), each trained point is kept under its own spec, seeds, data and code
(`stored_point`, `train_point`): editing the experiment's own value (its lr, in an lr sweep) changes the
sweep's spec but no other point's, so only the points never trained before train. The points to train may
share several processes (`train_points`, `--processes`): each is one stack, alike in any process.
"""

from __future__ import annotations

import json
import platform
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from lessonbench import fileio, store
from lessonbench.config import sweep_point_spec, training_spec
from lessonbench.data import load_part, read_scaler
from lessonbench.experiment import forked_starmap, usable_processes, write_experiment
from lessonbench.fileio import log
from lessonbench.stacked import StackedMLP
from lessonbench.training import StackRun, history_frame, resolve_device, summarise_stack, train_stack

CHANCE = 0.1  # validation accuracy of a diverged seed: non-finite outputs predict one class of ten


def best_id(sweep_id: str) -> str:
    return f"{sweep_id}_best"


def final_val(history: pd.DataFrame, seeds: list[int], split: str = "val") -> dict[int, float]:
    """Each seed's accuracy on `split` after its last epoch; a seed that diverged (fewer epochs) counts at chance."""
    rows = history[history["split"] == split]
    last = rows["epoch"].max() if len(rows) else 0
    out = {}
    for seed in seeds:
        mine = rows[(rows["seed"] == seed) & (rows["epoch"] == last)]
        out[seed] = float(mine["accuracy"].iloc[0]) if len(mine) else CHANCE
    return out


def point_rows(sweep: dict, value: float, history: pd.DataFrame, seeds: list[int]) -> list[dict]:
    val, train = final_val(history, seeds), final_val(history, seeds, "train")
    return [{"sweep": sweep["id"], "experiment": sweep["experiment"], "key": sweep["key"], "scale": sweep["scale"],
             "value": value,
             "lesson_value": value == sweep["lesson_value"], "seed": seed, "final_val_accuracy": val[seed],
             "final_train_accuracy": train[seed]} for seed in seeds]


def point_key(spec: dict, seeds: list[int], device: str, key_inputs: dict, threads: int) -> str:
    """A point's key in the store: its own training spec (the swept value set), seeds, data and code, not the
    sweep's: editing the swept experiment's own value (its lr, in an lr sweep) leaves every other point's key
    as it was."""
    return store.sweep_point_key(training_spec(spec), seeds, device, key_inputs, threads)


def stored_point(spec: dict, seeds: list[int], device: str, store_dir, key: str) -> StackRun | None:
    """The point kept in the store under key (trained, or read back from its experiment, before), or None.
    Stored: the history, the stacked model's state (for the test scoring, should the point be chosen) and which
    seeds diverged."""
    if not store_dir:
        return None
    with tempfile.TemporaryDirectory() as tmp:
        files = point_files(tmp)
        if store.fetch(store_dir, key, files) is None:
            return None
        facts = json.loads(Path(files["run"]).read_text())
        return point_run(spec, seeds, device, torch.load(files["model"], weights_only=True),
                         pd.read_parquet(files["history"]).to_dict("records"),
                         {int(seed): epoch for seed, epoch in facts["diverged_epoch"].items()})


def point_run(spec: dict, seeds: list[int], device: str, state: dict, history: list[dict],
              diverged_epoch: dict[int, int], seconds: float = 0.0) -> StackRun:
    """A trained point's run from its stacked model's state: what the test scoring needs of it."""
    model = StackedMLP(spec["model"], len(seeds), resolve_device(device))
    model.load_state_dict(state)
    return StackRun(seeds=list(seeds), model=model, history=history, diverged_epoch=diverged_epoch, seconds=seconds)


def train_point(spec: dict, seeds: list[int], data: dict, device: str, threads: int, store_dir, key: str) -> dict:
    """Train one point as one stack and keep it in the store; what point_run needs, picklable (a point trained in
    another process comes back as this)."""
    torch.set_num_threads(threads)
    run = train_stack(spec, seeds, data, device, log=lambda message: None)
    if store_dir:
        keep_point(store_dir, key, spec, run)
    return {"state": run.model.state_dict(), "history": run.history, "diverged_epoch": run.diverged_epoch,
            "seconds": run.seconds}


def train_points(todo: dict, seeds: list[int], data: dict, device: str, threads: int, store_dir, processes: int,
                 log) -> dict:
    """{value: StackRun} for {value: (spec, key)}: each point one stack, the points shared among `processes`
    forked processes (CPU only; each point trains alike in any process, so the files are the same)."""
    processes = min(usable_processes(processes, device), len(todo))
    args = [(spec, seeds, data, device, threads, store_dir, key) for spec, key in todo.values()]
    if processes <= 1:
        results = [train_point(*a) for a in args]
    else:
        log(f"{len(todo)} points to train, in {processes} processes")
        results = forked_starmap(train_point, args, processes)
    return {value: point_run(spec, seeds, device, r["state"], r["history"], r["diverged_epoch"], r["seconds"])
            for (value, (spec, _)), r in zip(todo.items(), results)}


def point_files(folder) -> dict[str, str]:
    """A stored point's files: the history, the stacked model's state and which seeds diverged."""
    return {"history": f"{folder}/history.parquet", "model": f"{folder}/model.pt", "run": f"{folder}/run.json"}


def keep_point(store_dir, key: str, spec: dict, run: StackRun) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        files = point_files(tmp)
        fileio.write_parquet(history_frame(run.history), files["history"])
        torch.save(run.model.state_dict(), files["model"])
        fileio.write_json({"diverged_epoch": {str(seed): epoch for seed, epoch in run.diverged_epoch.items()}},
                          files["run"])
        store.keep(store_dir, key, files, {"step": "sweep_point", "value_spec": training_spec(spec)})


def experiment_point(spec: dict, seeds: list[int], history: pd.DataFrame, experiment_files: dict,
                     device: str) -> StackRun:
    """The experiment's own first seeds (their `history`, read back) as the run a point of these seeds would be:
    the same history, the seeds' final weights put into one stack, the same divergences (a seed trains alike in
    any stack)."""
    weights = torch.load(experiment_files["weights"], weights_only=True)
    model = StackedMLP(spec["model"], len(seeds), resolve_device(device))
    for k, seed in enumerate(seeds):
        model.load_seed_state(k, weights[seed])
    runs = pd.read_parquet(experiment_files["runs"])
    diverged = runs[runs["seed"].isin(seeds) & runs["diverged_epoch"].notna()]
    records = history_frame(history.to_dict("records")).to_dict("records")
    return StackRun(seeds=list(seeds), model=model, history=records,
                    diverged_epoch={int(s): int(e) for s, e in zip(diverged["seed"], diverged["diverged_epoch"])})


def run_sweep(sweep: dict, split_path, scaler_path, experiment_files: dict, threads: int, device: str = "cpu",
              log=print, store_dir="", processes: int = 1) -> tuple[pd.DataFrame, dict, dict]:
    """Train every value (the points not kept in the store, in `processes` processes); return (points table,
    best point's run files, best.json)."""
    torch.set_num_threads(threads)
    seeds = list(range(sweep["seeds"]))
    frame, scaler = pd.read_parquet(split_path), read_scaler(scaler_path)
    data = {part: load_part(frame, scaler, part) for part in ("train", "val")}
    points, best, started = [], None, time.perf_counter()
    key_inputs = {"split": split_path, "scaler": scaler_path}
    specs = {value: sweep_point_spec(sweep, value) for value in sweep["values"]}
    keys = {value: point_key(spec, seeds, device, key_inputs, threads) if store_dir else None
            for value, spec in specs.items()}
    stored = {value: stored_point(specs[value], seeds, device, store_dir, keys[value])
              for value in sweep["values"] if value != sweep["lesson_value"]}
    trained = train_points({value: (specs[value], keys[value]) for value, run in stored.items() if run is None},
                           seeds, data, device, threads, store_dir, processes, log)
    for value in sweep["values"]:
        spec = specs[value]
        if value == sweep["lesson_value"]:  # the experiment itself: read back its first seeds
            history = pd.read_parquet(experiment_files["history"])
            history = history[history["seed"].isin(seeds)].drop(columns="experiment")
            run = None
            log(f"{sweep['id']}: {sweep['key']} = {value:g} is {sweep['experiment']!r} itself: read back")
            if store_dir:  # kept as a point: after an edit of the experiment's value it is one, trained already
                keep_point(store_dir, keys[value], spec, experiment_point(spec, seeds, history, experiment_files,
                                                                          device))
        else:
            run = stored[value] or trained[value]
            history = history_frame(run.history)
            log(f"{sweep['id']}: {sweep['key']} = {value:g}: {len(seeds)} seeds "
                + ("read back from the store (trained before: same spec, data and code)" if stored[value]
                   else f"in {run.seconds:.1f} s"))
        rows = point_rows(sweep, value, history, seeds)
        mean = float(np.mean([r["final_val_accuracy"] for r in rows]))
        log(f"  mean final validation accuracy {100 * mean:.2f}%")
        points += rows
        if best is None or mean > best["mean"]:  # ties go to the earlier value
            best = {"value": value, "mean": mean, "run": run, "spec": spec}
    data["test"] = load_part(frame, scaler, "test")
    data["test_samples"] = frame.loc[frame["split"] == "test", "sample"].to_numpy()
    result = best_files(sweep, best, data, experiment_files)
    result["timing"]["sweep_seconds"] = round(time.perf_counter() - started, 3)  # every value, not deterministic
    spec = {**best["spec"], "id": best_id(sweep["id"]), "section": "sensitivity", "origin": "sweep",
            "title": f"{sweep['experiment']} at its best {sweep['key']} ({best['value']:g})",
            "description": f"The sweep {sweep['id']}'s best value of {sweep['key']}, chosen on validation data."}
    chosen = {"sweep": sweep["id"], "value": best["value"], "val_accuracy_mean": best["mean"], "spec": spec}
    return pd.DataFrame(points), result, chosen


def best_files(sweep: dict, best: dict, data: dict, experiment_files: dict) -> dict:
    """The best point's history, runs, test probabilities, weights and timing, as a training job writes them."""
    exp_id, seeds = best_id(sweep["id"]), list(range(sweep["seeds"]))
    if best["run"] is None:  # the experiment's own value won: its files, first seeds, renamed
        pick = {name: pd.read_parquet(experiment_files[name]) for name in ("history", "runs", "test_probs")}
        pick = {name: f[f["seed"].isin(seeds)].assign(experiment=exp_id).reset_index(drop=True)
                for name, f in pick.items()}
        weights = torch.load(experiment_files["weights"], weights_only=True)
        return {**pick, "weights": {seed: weights[seed] for seed in seeds},
                "timing": {**json.loads(Path(experiment_files["timing"]).read_text()), "experiment": exp_id,
                           "seeds": len(seeds), "seconds": 0.0, "read_back": True}}
    run = best["run"]
    rows, probs = summarise_stack(run, data)  # the only test-set read of the sweep: the chosen point
    history = history_frame(run.history).assign(experiment=exp_id)
    return {"history": history[["experiment", "seed", "epoch", "split", "loss", "accuracy"]],
            "runs": pd.DataFrame(rows).assign(experiment=exp_id).astype({"diverged_epoch": "Int64"}),
            "test_probs": probs.assign(experiment=exp_id),
            "weights": {seed: run.model.seed_state(k) for k, seed in enumerate(seeds)},
            "timing": {"experiment": exp_id, "seeds": len(seeds), "seconds": round(run.seconds, 3),
                       "device": next(run.model.parameters()).device.type, "host": platform.node(),
                       "cpu": platform.processor() or platform.machine()}}


def train_sweep_step(args) -> None:
    sweep = args.sweep
    experiment_files = dict(item.split("=", 1) for item in args.experiment_files)
    outputs = {name: getattr(args, name) for name in ("points", "best", "spec", "history", "runs", "test_probs",
                                                      "weights", "timing")}

    def run() -> None:
        points, result, chosen = run_sweep(sweep, args.split, args.scaler, experiment_files, args.threads,
                                           args.device, log=log, store_dir=args.store, processes=args.processes)
        fileio.write_parquet(points, args.points)
        fileio.write_json(chosen, args.best)
        fileio.write_json(chosen["spec"], args.spec)  # the best point's spec: what the tables read
        write_experiment(result, outputs)

    inputs = {"split": args.split, "scaler": args.scaler,
              **{f"experiment_{name}": path for name, path in experiment_files.items() if name != "timing"}}
    store.reuse_or_run(args.store, "sweep", {"sweep": sweep, "threads": args.threads, "device": args.device},
                       inputs, outputs, run, log, f"sweep {sweep['id']!r}")
    chosen = json.loads(Path(args.best).read_text())
    log(f"{sweep['id']}: best {sweep['key']} = {chosen['value']:g} "
        f"(mean final validation accuracy {100 * chosen['val_accuracy_mean']:.2f}%)")
