"""Benchmark: the change loop a user lives in, against the lesson notebook's one seed of `momentum`.

    python benchmarks/change_loop.py              # about 10 minutes on 2 cores
    python benchmarks/change_loop.py --cores 4 --json loop.json

In a scratch copy of the repository's tracked files (so nothing of yours is touched), one after another:
  1. the lesson notebook's loop (DataLoader + nn.Sequential, benchmarks/stacked_vs_lesson.lesson_loop)
     trains `momentum` for one seed, all its epochs: the yardstick, measured in this run;
  2. the full default pipeline from clean (`snakemake --cores N`);
  3. `momentum`'s learning rate halved in experiments/lesson.yaml, `snakemake --cores N` to a new PDF;
     the file restored and the workflow brought back (untimed);
  4. `sgd_at_momentum_lr`'s learning rate halved, the same: an experiment no sweep reads, so it is the one training job
     and trains its seeds in as many processes as there are cores;
  5. `momentum`'s epochs 200 -> 150, the same: its sweep reads `momentum` back, so it waits for it and then
     retrains every other point; both train in as many processes as there are cores;
  6. `momentum`'s title edited, the same;
  7. a no-op rerun;
  8. the report render alone (`--forcerun render_report`).
Each step prints its wall time, the ratio to the notebook's one seed, the jobs Snakemake ran, and the
peak resident memory of the largest job. Timings are machine facts: nothing here asserts a speed.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT / "benchmarks"))

TARGETS = {"edit lr": 15.0, "edit twin lr": 15.0, "edit title": 5.0, "no-op": 2.0, "clean": 120.0, "render": 4.0}
EXPERIMENT = "momentum"
# The lines of experiments/lesson.yaml the edits change (each once in the file): momentum's learning rate, the
# learning rate of an experiment that no sweep reads (after its edit the only training job: it gets the spare
# cores), and momentum's title. change_loop_ab.py makes the same edits.
LR = "optimizer: {name: sgd, lr: 0.1, momentum: 0.9}\n\n  sgd_at_momentum_lr:"
TWIN, TWIN_LR = "sgd_at_momentum_lr", "epochs: 200\n    optimizer: {name: sgd, lr: 0.1}\n\n  adagrad:"
TITLE = "title: SGD with momentum\n"
# momentum's epochs: an edit of a swept experiment's other settings, so its sweep (momentum_lr) retrains every
# point after it (no target in the issue; timed since the sweep's points train in the spare cores too)
EPOCHS = "epochs: 200\n    " + LR


def notebook_seconds() -> float:
    """The lesson notebook's loop, one seed of `momentum`, all its epochs, one torch thread."""
    import torch
    from stacked_vs_lesson import lesson_loop

    from lessonbench.engine.data import fit_scaler, load_parts, split_frame
    from lessonbench.spec.config import resolve_experiments

    torch.set_num_threads(1)
    data_settings, specs = resolve_experiments([ROOT / "experiments" / "lesson.yaml"])
    frame = split_frame(data_settings)[0]
    scaler = fit_scaler(frame, data_settings["scaler_fit"])
    data = load_parts(frame, scaler)
    return lesson_loop(specs[EXPERIMENT], 0, data)


def snakemake(work: Path, *args: str) -> dict:
    """Run Snakemake in work; wall seconds, peak RSS (MB) of the largest job, and the jobs it ran."""
    probe = ("import resource, subprocess, sys, time; t = time.perf_counter(); "
             "r = subprocess.run(sys.argv[1:], capture_output=True, text=True); "
             "sys.stderr.write(r.stdout + r.stderr); "
             "print(r.returncode, time.perf_counter() - t, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)")
    command = [str(Path(sys.executable).parent / "snakemake"), *args]
    env = {**os.environ, "SOURCE_DATE_EPOCH": "1767225600"}
    out = subprocess.run([sys.executable, "-c", probe, *command], cwd=work, capture_output=True, text=True,
                         env=env)
    code, seconds, peak_kb = out.stdout.split()
    if code != "0":
        raise SystemExit(f"{' '.join(command)} failed in {work} (exit {code}):\n{out.stderr[-3000:]}")
    jobs = re.findall(r"^(?:local)?rule (\w+):", out.stderr, flags=re.M)
    counts = {job: jobs.count(job) for job in dict.fromkeys(jobs)}
    return {"seconds": float(seconds), "peak_mb": int(peak_kb) / 1024, "jobs": counts}


def edited(path: Path, old: str, new: str):
    """A context manager: path with `old` replaced by `new` (exactly once), restored afterwards."""
    class Edit:
        def __enter__(self):
            self.original = path.read_text()
            if self.original.count(old) != 1:
                raise SystemExit(f"{path}: expected {old!r} once")
            path.write_text(self.original.replace(old, new))

        def __exit__(self, *exc):
            path.write_text(self.original)

    return Edit()


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--cores", default="2", help="snakemake --cores (default 2, the machine the targets are for)")
    p.add_argument("--json", help="also write the figures here as JSON")
    p.add_argument("--work", help="make the scratch copy here and leave it (for a cmp of its results afterwards); "
                                  "default: a temporary folder, removed")
    args = p.parse_args()
    print(f"change loop on {platform.node()} ({os.cpu_count()} CPUs), snakemake --cores {args.cores}", flush=True)
    notebook = notebook_seconds()
    print(f"  lesson notebook, one seed of {EXPERIMENT}: {notebook:.1f} s", flush=True)
    rows = []
    from stacked_vs_lesson import scratch_copy

    with tempfile.TemporaryDirectory(prefix="lessonbench-loop-") as scratch:
        if args.work and Path(args.work).exists():
            raise SystemExit(f"--work {args.work}: already exists; give a new folder")
        work = scratch_copy(Path(args.work) if args.work else Path(scratch) / "repo")
        lesson = work / "experiments" / "lesson.yaml"

        def step(name: str, what: str, *extra: str) -> None:
            row = {"step": name, "what": what, **snakemake(work, "--cores", args.cores, *extra)}
            row["ratio"] = row["seconds"] / notebook
            row["target_s"] = TARGETS.get(name)
            rows.append(row)
            jobs = ", ".join(f"{job} x{n}" if n > 1 else job for job, n in row["jobs"].items()) or "none"
            target = f"target {row['target_s']} s" if row["target_s"] else "no target"
            print(f"  {what}: {row['seconds']:.1f} s ({row['ratio']:.2f}x the notebook's seed; {target}), "
                  f"peak job {row['peak_mb']:.0f} MB; jobs: {jobs}", flush=True)

        step("clean", "full default pipeline from clean")
        with edited(lesson, LR, LR.replace("lr: 0.1,", "lr: 0.05,")):
            step("edit lr", f"{EXPERIMENT}'s lr halved -> new PDF")
        snakemake(work, "--cores", args.cores)  # back to the clean state (reuses the stored result)
        with edited(lesson, TWIN_LR, TWIN_LR.replace("lr: 0.1}", "lr: 0.05}")):
            step("edit twin lr", f"{TWIN}'s lr halved (no sweep: its seeds get both cores) -> new PDF")
        snakemake(work, "--cores", args.cores)
        with edited(lesson, EPOCHS, EPOCHS.replace("epochs: 200", "epochs: 150")):
            step("edit epochs", f"{EXPERIMENT}'s epochs 200 -> 150 (its sweep retrains after it) -> new PDF")
        snakemake(work, "--cores", args.cores)
        with edited(lesson, TITLE, "title: SGD with momentum (edited)\n"):
            step("edit title", f"{EXPERIMENT}'s title edited -> new PDF")
        snakemake(work, "--cores", args.cores)
        step("no-op", "no-op rerun")
        step("render", "report render alone", "--forcerun", "render_report")
    print(f"\n| step | wall time | x notebook seed ({notebook:.1f} s) | target | peak job |\n|---|---|---|---|---|")
    for row in rows:
        target = f"<= {row['target_s']:g} s" if row["target_s"] else ""
        print(f"| {row['what']} | {row['seconds']:.1f} s | {row['ratio']:.2f} | {target} | {row['peak_mb']:.0f} MB |")
    if args.json:
        Path(args.json).write_text(json.dumps({"host": platform.node(), "cpus": os.cpu_count(), "cores": args.cores,
                                               "notebook_seconds": notebook, "rows": rows}, indent=2) + "\n")


if __name__ == "__main__":
    main()
