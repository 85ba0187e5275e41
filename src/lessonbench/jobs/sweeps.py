"""Sensitivity sweeps: one experiment at every value of one hyperparameter, the best value chosen on validation.

Each value trains on the sweep's tuning seeds (numbered after the experiment's own) as one stack through
training.train_stack with the experiment's spec and that one value changed. The best value is the one with the
highest mean final validation accuracy over the tuning seeds (a diverged seed counts at chance); it is then
retrained on the experiment's own seeds, fresh to the choice, and only that run is scored on the test set, as the
experiment `<sweep>_best` (when the lesson's own value wins, that run is the experiment itself: read back). So
the claims "at its best" never read the runs that chose the value (DeepOBS's protocol).

With a store (config `store`), each trained point is kept under its own spec, seeds, data and code
(`stored_point`, `train_point`): editing the experiment's own value (its lr, in an lr sweep) changes the
sweep's spec but no other point's, so only the points never trained before train. The points to train may
share several processes (`train_points`, the job's `processes`): each is one stack, alike in any process.
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
from lessonbench.engine.data import load_part, load_parts, preprocess, read_scaler
from lessonbench.engine.stacked import StackedMLP
from lessonbench.engine.training import StackRun, history_frame, resolve_device, summarise_stack, train_stack
from lessonbench.fileio import log
from lessonbench.jobs.experiment import forked_starmap, usable_processes, write_experiment
from lessonbench.spec.config import sweep_point_spec, training_spec


def best_id(sweep_id: str) -> str:
    return f"{sweep_id}_best"


def final_val(history: pd.DataFrame, seeds: list[int], at_chance: float, split: str = "val") -> dict[int, float]:
    """Each seed's accuracy on `split` after its last epoch; a seed that diverged (fewer epochs) counts at chance
    (one over the classes: its non-finite outputs predict one)."""
    rows = history[history["split"] == split]
    last = rows["epoch"].max() if len(rows) else 0
    out = {}
    for seed in seeds:
        mine = rows[(rows["seed"] == seed) & (rows["epoch"] == last)]
        out[seed] = float(mine["accuracy"].iloc[0]) if len(mine) else at_chance
    return out


def point_rows(sweep: dict, value: float, history: pd.DataFrame, seeds: list[int], at_chance: float) -> list[dict]:
    val, train = final_val(history, seeds, at_chance), final_val(history, seeds, at_chance, "train")
    return [{"sweep": sweep["id"], "experiment": sweep["experiment"], "key": sweep["key"], "scale": sweep["scale"],
             "value": value,
             "lesson_value": value == sweep["lesson_value"], "seed": seed, "final_val_accuracy": val[seed],
             "final_train_accuracy": train[seed]} for seed in seeds]


def point_key(spec: dict, seeds: list[int], device: str, key_inputs: dict, threads: int) -> str:
    """A point's key in the store: its own training spec (the swept value set), seeds, data and code, not the
    sweep's: editing the swept experiment's own value (its lr, in an lr sweep) leaves every other point's key
    as it was."""
    return store.sweep_point_key(training_spec(spec), seeds, device, key_inputs, threads)


def stored_point(spec: dict, seeds: list[int], device: str, shape, store_dir, key: str) -> StackRun | None:
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
        return point_run(spec, seeds, device, shape, torch.load(files["model"], weights_only=True),
                         pd.read_parquet(files["history"]).to_dict("records"),
                         {int(seed): epoch for seed, epoch in facts["diverged_epoch"].items()})


def point_run(spec: dict, seeds: list[int], device: str, shape, state: dict, history: list[dict],
              diverged_epoch: dict[int, int], seconds: float = 0.0) -> StackRun:
    """A trained point's run from its stacked model's state: what the test scoring needs of it."""
    model = StackedMLP(spec["model"], len(seeds), shape, resolve_device(device))
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
    return {value: point_run(spec, seeds, device, data["shape"], r["state"], r["history"], r["diverged_epoch"],
                             r["seconds"])
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


def sweep_points(sweep: dict, seeds: list[int], data: dict, device: str, threads: int, store_dir, key_inputs: dict,
                 processes: int, log) -> dict:
    """{value: (spec, StackRun)} of every value of the sweep on `seeds`: from the store where kept, the others
    trained (in `processes` processes)."""
    specs = {value: sweep_point_spec(sweep, value) for value in sweep["values"]}
    keys = {value: point_key(spec, seeds, device, key_inputs, threads) if store_dir else None
            for value, spec in specs.items()}
    stored = {value: stored_point(specs[value], seeds, device, data["shape"], store_dir, keys[value])
              for value in sweep["values"]}
    trained = train_points({value: (specs[value], keys[value]) for value, run in stored.items() if run is None},
                           seeds, data, device, threads, store_dir, processes, log)
    for value, run in stored.items():
        log(f"{sweep['id']}: {sweep['key']} = {value:g}: {len(seeds)} tuning seeds "
            + ("read back from the store (trained before: same spec, data and code)" if run
               else f"in {trained[value].seconds:.1f} s"))
    return {value: (specs[value], stored[value] or trained[value]) for value in sweep["values"]}


def choose(sweep: dict, points: dict, seeds: list[int], at_chance: float) -> tuple[list[dict], dict]:
    """(the points table's rows, the best point): the highest mean final validation accuracy over the tuning
    seeds (ties go to the earlier value); `at_edge` when it is the grid's smallest or largest value."""
    rows, best = [], None
    for value, (spec, run) in points.items():
        mine = point_rows(sweep, value, history_frame(run.history), seeds, at_chance)
        mean = float(np.mean([r["final_val_accuracy"] for r in mine]))
        rows += mine
        if best is None or mean > best["mean"]:
            best = {"value": value, "mean": mean, "spec": spec}
    values = sweep["values"]
    best["at_edge"] = len(values) > 1 and best["value"] in (min(values), max(values))
    return rows, best


def run_sweep(sweep: dict, split_path, scaler_path, experiment_files: dict, threads: int, device: str = "cpu",
              log=print, store_dir="", processes: int = 1) -> tuple[pd.DataFrame, dict, dict]:
    """Train every value on the tuning seeds (the points not kept in the store, in `processes` processes), choose
    the best on validation, retrain it on the experiment's seeds; return (points table, best's run files, best.json)."""
    torch.set_num_threads(threads)
    seeds, started = sweep["tuning_seeds"], time.perf_counter()
    frame, scaler = preprocess(pd.read_parquet(split_path), read_scaler(scaler_path), sweep["spec"].get("preprocess"))
    data = load_parts(frame, scaler)
    key_inputs = {"split": split_path, "scaler": scaler_path}
    points = sweep_points(sweep, seeds, data, device, threads, store_dir, key_inputs, processes, log)
    rows, best = choose(sweep, points, seeds, 1 / data["shape"][1])
    edge = ", at the edge of the grid" if best["at_edge"] else ""
    log(f"{sweep['id']}: best {sweep['key']} = {best['value']:g} on the tuning seeds "
        f"(mean final validation accuracy {100 * best['mean']:.2f}%){edge}")
    data["test"] = load_part(frame, scaler, "test")
    data["test_samples"] = frame.loc[frame["split"] == "test", "sample"].to_numpy()
    result = best_files(sweep, best, data, experiment_files, {"device": device, "threads": threads, "store": store_dir,
                                                               "key_inputs": key_inputs}, log)
    result["timing"]["sweep_seconds"] = round(time.perf_counter() - started, 3)  # every value, not deterministic
    fresh = list(range(best["spec"]["seeds"]))
    spec = {**best["spec"], "id": best_id(sweep["id"]), "section": "sensitivity", "origin": "sweep",
            "title": f"{sweep['experiment']} at its best {sweep['key']} ({best['value']:g})",
            "description": f"The sweep {sweep['id']}'s best value of {sweep['key']}, chosen on validation data with "
                           f"tuning seeds {seeds[0]}-{seeds[-1]}, retrained with seeds {fresh[0]}-{fresh[-1]}."}
    chosen = {"sweep": sweep["id"], "value": best["value"], "val_accuracy_mean": best["mean"],
              "at_edge": best["at_edge"], "tuning_seeds": seeds, "seeds": fresh, "spec": spec}
    return pd.DataFrame(rows), result, chosen


def best_files(sweep: dict, best: dict, data: dict, experiment_files: dict, how: dict, log) -> dict:
    """The best value retrained on the experiment's seeds (fresh to the choice): history, runs, test probabilities,
    weights and timing, as a training job writes them. When the lesson's own value won, that run is the experiment
    itself (same spec and seeds, same bits): its files, renamed."""
    exp_id, spec = best_id(sweep["id"]), best["spec"]
    seeds = list(range(spec["seeds"]))
    if best["value"] == sweep["lesson_value"] and experiment_files:
        log(f"{exp_id}: the lesson's own value won; its seeds {seeds[0]}-{seeds[-1]} are {sweep['experiment']!r}'s")
        pick = {name: pd.read_parquet(experiment_files[name]).assign(experiment=exp_id)
                for name in ("history", "runs", "test_probs")}
        return {**pick, "weights": torch.load(experiment_files["weights"], weights_only=True),
                "timing": {**json.loads(Path(experiment_files["timing"]).read_text()), "experiment": exp_id,
                           "seconds": 0.0, "read_back": True}}
    key = point_key(spec, seeds, how["device"], how["key_inputs"], how["threads"]) if how["store"] else None
    run = stored_point(spec, seeds, how["device"], data["shape"], how["store"], key) or train_points(
        {best["value"]: (spec, key)}, seeds, data, how["device"], how["threads"], how["store"], 1, log)[best["value"]]
    log(f"{exp_id}: seeds {seeds[0]}-{seeds[-1]} at {sweep['key']} = {best['value']:g} in {run.seconds:.1f} s")
    rows, probs = summarise_stack(run, data)  # the only test-set read of the sweep: the chosen value's fresh seeds
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
    # the swept experiment's run files, given when the grid holds its own value (read back should it win)
    experiment_files = {name: path for name in ("history", "runs", "test_probs", "weights", "timing")
                        if (path := getattr(args, f"experiment_{name}", None))}
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
    keyed = {**sweep, "spec": training_spec(sweep["spec"])}  # what trains: a section move keeps the key
    store.reuse_or_run(args.store, "sweep", {"sweep": keyed, "threads": args.threads, "device": args.device},
                       inputs, outputs, run, log, f"sweep {sweep['id']!r}")
    chosen = json.loads(Path(args.best).read_text())
    log(f"{sweep['id']}: best {sweep['key']} = {chosen['value']:g} "
        f"(mean final validation accuracy {100 * chosen['val_accuracy_mean']:.2f}% on the tuning seeds)")
