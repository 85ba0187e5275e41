"""One training job: every seed of one experiment, written as tables, weights and timings."""

from __future__ import annotations

import functools
import io
import json
import multiprocessing
import os
import platform
import signal
import time
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from lessonbench import fileio, store
from lessonbench.engine.data import load_part, load_parts, preprocess, read_scaler
from lessonbench.engine.training import history_frame, summarise_stack, train_stack
from lessonbench.fileio import log
from lessonbench.spec.config import training_spec


def run_experiment(exp_id: str, spec: dict, split_path, scaler_path, threads: int, device: str = "cpu",
                   seeds: list[int] | None = None, log=print) -> dict:
    """Train seeds (default 0..spec['seeds']-1) of spec together; return history, runs and test-probability frames.

    The test part is loaded only after every seed has finished training.
    """
    torch.set_num_threads(threads)  # fixed from config: 1 vs 2 threads changes the last bits
    seeds = list(range(spec["seeds"])) if seeds is None else seeds
    frame, scaler = preprocess(pd.read_parquet(split_path), read_scaler(scaler_path), spec.get("preprocess"))
    data = load_parts(frame, scaler)
    log(f"{exp_id}: seeds {seeds[0]}..{seeds[-1]} ({len(seeds)}) trained together x {spec['epochs']} epochs, "
        f"{len(data['train'][1])} train / {len(data['val'][1])} val samples, device {device}, torch threads {threads}")
    try:
        run = train_stack(spec, seeds, data, device, log)
    except Exception as err:
        raise RuntimeError(f"experiment {exp_id!r}, seeds {seeds[0]}..{seeds[-1]}: training failed: {err}") from err
    log(f"{exp_id}: {len(seeds)} seeds done in {run.seconds:.2f} s")
    data["test"] = load_part(frame, scaler, "test")
    data["test_samples"] = frame.loc[frame["split"] == "test", "sample"].to_numpy()
    rows, probs = summarise_stack(run, data)
    history = history_frame(run.history)
    return {
        "history": history.assign(experiment=exp_id)[["experiment", "seed", "epoch", "split", "loss", "accuracy"]],
        "runs": pd.DataFrame(rows).assign(experiment=exp_id).astype({"diverged_epoch": "Int64"}),
        "test_probs": probs.assign(experiment=exp_id),
        "weights": {seed: run.model.seed_state(k) for k, seed in enumerate(seeds)},
        "timing": {"experiment": exp_id, "seeds": len(seeds), "seconds": round(run.seconds, 3), "device": device,
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


def combine_chunks_step(args) -> None:
    """One experiment's files from its seed chunks, as the unchunked job would have written them."""
    result = combine_results([
        {"history": pd.read_parquet(history), "runs": pd.read_parquet(runs), "test_probs": pd.read_parquet(probs),
         "weights": torch.load(weights, weights_only=True), "timing": json.loads(Path(timing).read_text())}
        for history, runs, probs, weights, timing in zip(args.history, args.runs, args.test_probs, args.weights,
                                                          args.timing, strict=True)])
    seeds = result["runs"]["seed"].tolist()
    write_experiment(result, {"history": args.out_history, "runs": args.out_runs, "test_probs": args.out_test_probs,
                              "weights": args.out_weights, "timing": args.out_timing})
    log(f"{len(args.runs)} chunks combined: seeds {seeds[0]}..{seeds[-1]}")


def seed_chunks(seeds: list[int], processes: int) -> list[list[int]]:
    """seeds in `processes` contiguous chunks, the first ones a seed longer where they do not divide evenly
    (fewer chunks if there are fewer seeds)."""
    return [chunk.tolist() for chunk in np.array_split(seeds, max(1, min(processes, len(seeds))))]


def run_experiment_in_processes(exp_id: str, spec: dict, split_path, scaler_path, threads: int, device: str = "cpu",
                                seeds: list[int] | None = None, processes: int = 1, log=print) -> dict:
    """run_experiment with the seeds split over `processes` forked processes (CPU only), combined as
    combine_chunks combines seed chunks: the same result, byte for byte once written, in less wall time
    when the cores would otherwise idle. The workflow gives a job more than one core only when few
    experiments retrain (planning.train_threads)."""
    seeds = list(range(spec["seeds"])) if seeds is None else seeds
    chunks = seed_chunks(seeds, usable_processes(processes, device))
    if len(chunks) == 1:
        return run_experiment(exp_id, spec, split_path, scaler_path, threads, device, seeds, log)
    log(f"{exp_id}: seeds split over {len(chunks)} processes: {', '.join(f'{c[0]}..{c[-1]}' for c in chunks)}")
    return combine_results(forked_starmap(run_experiment, [
        (exp_id, spec, split_path, scaler_path, threads, device, chunk,
         functools.partial(prefixed, f"[seeds {chunk[0]}..{chunk[-1]}]", log)) for chunk in chunks], len(chunks)))


def usable_processes(processes: int, device: str) -> int:
    """How many of the processes asked for to train in: no more than this process may run on; one off the CPU."""
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    return max(1, min(processes, usable)) if device == "cpu" else 1


def forked_starmap(fn, args: list[tuple], processes: int) -> list:
    """[fn(*a) for a in args] in `processes` forked workers, which die with this process (die_with_parent)."""
    with multiprocessing.get_context("fork").Pool(processes, initializer=die_with_parent) as pool:
        return pool.starmap(fn, args)


def die_with_parent() -> None:
    """In a forked worker: be killed when the job's process dies (Linux), so that a job killed with SIGKILL (the
    out-of-memory killer, a test) leaves no worker training on, orphaned. Elsewhere nothing."""
    try:
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass
    if os.getppid() == 1:  # the job died before the line above ran
        os._exit(1)


def prefixed(prefix: str, log, message: str) -> None:
    """log(message) under a prefix: the progress lines of one process among several in one log."""
    log(f"{prefix} {message}")


def combine_results(results: list[dict]) -> dict:
    """One experiment's result from its seed chunks' results (in seed order), as one stack of all seeds gives it."""
    combined = {part: pd.concat([r[part] for r in results], ignore_index=True)
                for part in ("history", "runs", "test_probs")}
    combined["weights"] = {seed: state for r in results for seed, state in r["weights"].items()}
    chunks = [r["timing"] for r in results]
    combined["timing"] = {**chunks[0], "seeds": sum(c["seeds"] for c in chunks),
                          "seconds": round(sum(c["seconds"] for c in chunks), 3),
                          "chunks": [{k: c[k] for k in ("seeds", "seconds", "host")} for c in chunks]}
    seeds = combined["runs"]["seed"].tolist()
    if seeds != sorted(set(seeds)):
        raise ValueError(f"seed chunks overlap or are out of order: seeds {seeds}")
    return combined


def train_experiment_step(args) -> None:
    spec = args.spec
    outputs = {name: getattr(args, name) for name in ("history", "runs", "test_probs", "weights", "timing")}

    def run() -> None:
        result = run_experiment_in_processes(args.experiment, spec, args.split, args.scaler, args.threads,
                                             args.device, seeds=args.seeds, processes=args.processes, log=log)
        write_experiment(result, outputs)

    settings = {"experiment": args.experiment, "spec": training_spec(spec), "seeds": args.seeds,
                "threads": args.threads, "device": args.device}
    store.reuse_or_run(args.store, "train", settings, {"split": args.split, "scaler": args.scaler}, outputs, run,
                       log, f"experiment {args.experiment!r}")
    board = pd.read_parquet(outputs["runs"])
    log(f"{args.experiment}: mean test accuracy {100 * board['final_test_accuracy'].mean():.2f}% "
        f"over {len(board)} seeds ({int(board['diverged_epoch'].notna().sum())} diverged)")


train_chunk_step = train_experiment_step  # a chunk: the experiment's step on some of its seeds (`seeds`)
