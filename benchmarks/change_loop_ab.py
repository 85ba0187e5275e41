"""Benchmark: the change loop's edits in two finished trees, interleaved, for a before/after on a drifting machine.

    python benchmarks/change_loop.py --work /tmp/a        # in a checkout of the old code
    python benchmarks/change_loop.py --work /tmp/b        # in a checkout of the new code
    python benchmarks/change_loop_ab.py /tmp/a /tmp/b --trials 3

This project's VM runs the same work up to twice as slowly from one quarter of an hour to the next (the
notebook's one seed took 5.7 s in one run of change_loop.py and 12.2 s in the next), so two runs of
change_loop.py one after the other compare the machine as much as the code. Here each trial runs, in tree A
and then in tree B (B first on every other trial): the whole run from clean (results, store and Snakemake's
records removed; with the training jobs' job-seconds from Snakemake's log of it, as benchmarks/job_seconds.py
counts them), then the edits change_loop.py times: `momentum`'s learning rate
(a value drawn anew each trial, the same in both trees), `sgd_at_momentum_lr`'s (the same value), `momentum`'s epochs
(also drawn anew), `momentum`'s title, a no-op rerun and the render alone, each restored and brought back
untimed. It prints every time and the medians; timings are machine facts: nothing is asserted.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import time
from collections import defaultdict
from pathlib import Path

from change_loop import EPOCHS, LR, TITLE, TWIN_LR  # the lines change_loop.py edits (this folder is on sys.path)
from job_seconds import TRAINING, job_seconds

STEPS = ("clean", "edit lr", "edit twin lr", "edit epochs", "edit title", "no-op", "render")


def snakemake(tree: Path, *args: str) -> float:
    """Wall seconds of `snakemake --cores 2 ARGS` in tree (stops the benchmark if it fails)."""
    command = [str(Path(sys.executable).parent / "snakemake"), "--cores", "2", *args]
    started = time.perf_counter()
    out = subprocess.run(command, cwd=tree, capture_output=True, text=True,
                         env={**os.environ, "SOURCE_DATE_EPOCH": "1767225600"})
    if out.returncode:
        raise SystemExit(f"{' '.join(command)} failed in {tree}:\n{out.stdout[-2000:]}\n{out.stderr[-2000:]}")
    return time.perf_counter() - started


def timed_edit(tree: Path, old: str, new: str) -> float:
    """Replace old (once) by new in the tree's lesson.yaml, time the rerun, restore and bring the tree back."""
    path = tree / "experiments" / "lesson.yaml"
    original = path.read_text()
    if original.count(old) != 1:
        raise SystemExit(f"{path}: expected {old!r} once")
    path.write_text(original.replace(old, new))
    try:
        return snakemake(tree)
    finally:
        path.write_text(original)
        snakemake(tree)  # back to the finished state (the store gives the old results back)


def clean_run(tree: Path) -> float:
    """The whole default run from nothing: results, the result store and Snakemake's records removed first."""
    for name in ("results", ".lessonbench-store", ".snakemake"):
        shutil.rmtree(tree / name, ignore_errors=True)
    return snakemake(tree)


def trial(tree: Path, n: int, lr: str, epochs: int, steps=STEPS) -> dict[str, float]:
    edits = {"clean": lambda: clean_run(tree),
             "edit lr": lambda: timed_edit(tree, LR, LR.replace("lr: 0.1,", f"lr: {lr},")),
             "edit twin lr": lambda: timed_edit(tree, TWIN_LR, TWIN_LR.replace("lr: 0.1}", f"lr: {lr}}}")),
             "edit epochs": lambda: timed_edit(tree, EPOCHS, EPOCHS.replace("epochs: 200", f"epochs: {epochs}")),
             "edit title": lambda: timed_edit(tree, TITLE, f"title: SGD with momentum (edit {n})\n"),
             "no-op": lambda: snakemake(tree),
             "render": lambda: snakemake(tree, "--forcerun", "render_report")}
    times = {step: edits[step]() for step in steps}
    if "clean" in steps:  # the clean run's training job-seconds, from Snakemake's own log of it
        times["training job-s"] = training_seconds(tree)
    return times


def training_seconds(tree: Path) -> float:
    """The summed wall seconds of the training jobs in the tree's first Snakemake log (its clean run)."""
    first = sorted((tree / ".snakemake" / "log").glob("*.snakemake.log"))[0]
    seconds = job_seconds(first)
    return sum(seconds.get(rule, 0.0) for rule in TRAINING)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("a", type=Path, help="a tree change_loop.py --work left (the old code)")
    p.add_argument("b", type=Path, help="another (the new code)")
    p.add_argument("--trials", type=int, default=3)
    p.add_argument("--json", help="also write every time here")
    p.add_argument("--steps", nargs="+", default=list(STEPS), choices=STEPS, help="time only these steps")
    args = p.parse_args()
    trees = {"A": args.a, "B": args.b}
    for name, tree in trees.items():
        if not (tree / "results" / "report" / "report.pdf").exists():
            raise SystemExit(f"{name} = {tree}: no finished run there (make one with change_loop.py --work)")
        snakemake(tree)  # finished, whatever was left half done
    times: dict[str, dict[str, list[float]]] = {name: defaultdict(list) for name in trees}
    # momentum's epochs, one new number per trial (150 is change_loop.py's): the same in both trees, in neither store
    epochs = random.sample([e for e in range(120, 200) if e != 150], args.trials)
    for n in range(args.trials):
        # one new learning rate per trial, the same in both trees: neither store holds it, so both train
        lr = f"{random.uniform(0.02, 0.08):.6f}"
        for name in ("A", "B") if n % 2 == 0 else ("B", "A"):
            for step, seconds in trial(trees[name], n, lr, epochs[n], args.steps).items():
                times[name][step].append(seconds)
                print(f"trial {n + 1} {name} {step}: {seconds:.1f} s", flush=True)
    print(f"\n| step | A: {args.a} | B: {args.b} | B / A (medians) |\n|---|---|---|---|")
    for step in [*args.steps, *(["training job-s"] if "clean" in args.steps else [])]:
        a, b = (statistics.median(times[name][step]) for name in trees)
        each = {name: ", ".join(f"{t:.1f}" for t in times[name][step]) for name in trees}
        print(f"| {step} | {a:.1f} s ({each['A']}) | {b:.1f} s ({each['B']}) | {b / a:.2f} |")
    if args.json:
        Path(args.json).write_text(json.dumps({"a": str(args.a), "b": str(args.b), "times": times}, indent=2) + "\n")


if __name__ == "__main__":
    main()
