"""Benchmark: the lesson's training loop against the stacked engine, and the whole pipeline.

    python benchmarks/stacked_vs_lesson.py                 # both parts (about 15 minutes on 2 cores)
    python benchmarks/stacked_vs_lesson.py --skip-pipeline # per-run part only
    python benchmarks/stacked_vs_lesson.py --device cuda --stacks 1 1000 10000 --skip-lesson --skip-pipeline

Part 1, per run, one process, the same torch thread count for both:
  - the lesson's loop as the lesson writes it: TensorDataset + DataLoader(batch_size=32, shuffle=True),
    nn.Sequential, one seed at a time, running train metrics and a validation pass per epoch;
  - the stacked engine (lessonbench.engine.training.train_stack) for K seeds at once, K = --stacks, with
    per-epoch train and validation passes over the full sets (more work than the lesson's loop does).
  It prints seconds per run (one seed, all epochs) and the ratio lesson / stacked.

Part 1b: one round of the hyperparameter search (experiments/search.yaml), the same trials trained
together (one stack per structure) and one at a time: trials per second of each.

Part 2, the whole default pipeline in a scratch copy of the repository: from clean with --cores 2
without the hyperparameter search, then with it (the default) with --cores 2 and --cores 4, the no-op
rerun, and the report render alone (--forcerun render_report), each with its wall time and the peak
resident memory of the largest process (job) it ran.

Timings are machine facts: nothing here is a test, and nothing asserts a speed.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

import torch  # noqa: E402
from torch import nn  # noqa: E402
from torch.utils.data import DataLoader, TensorDataset  # noqa: E402

import lessonbench  # noqa: E402,F401  (pins MKL's code path before the first matrix product)
from lessonbench.engine.data import fit_scaler, load_parts, split_frame  # noqa: E402
from lessonbench.engine.models import build_model, init_weights  # noqa: E402
from lessonbench.engine.training import generators, train_stack  # noqa: E402
from lessonbench.spec.config import resolve_experiments  # noqa: E402
from lessonbench.spec.registries import build_optimizer  # noqa: E402


def lesson_loop(spec: dict, seed: int, data: dict) -> float:
    """The lesson's fit_model for one seed; returns its wall seconds."""
    started = time.perf_counter()
    fit_lesson(spec, seed, data)
    return time.perf_counter() - started


def fit_lesson(spec: dict, seed: int, data: dict) -> nn.Module:
    """The lesson's fit_model for one seed, as the lesson writes it; returns the trained model."""
    torch.manual_seed(seed)
    (x, y), (vx, vy) = data["train"], data["val"]
    train_loader = DataLoader(TensorDataset(x, y), batch_size=spec["batch_size"], shuffle=True)
    val_loader = DataLoader(TensorDataset(vx, vy), batch_size=32)
    model = build_model(spec["model"], data["shape"])
    init_weights(model, spec["model"]["init"], generators([seed], "init")[0])
    loss_fn = nn.CrossEntropyLoss()
    optimizer = build_optimizer(model.parameters(), spec["optimizer"])
    for _ in range(spec["epochs"]):
        model.train()
        running_loss, correct, total = 0.0, 0, 0
        for images, labels in train_loader:
            outputs = model(images)
            loss = loss_fn(outputs, labels)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            running_loss += loss.item()
            _, predicted = torch.max(outputs.data, 1)
            total += labels.size(0)
            correct += (predicted == labels).sum().item()
        model.eval()
        with torch.no_grad():
            for images, labels in val_loader:
                outputs = model(images)
                running_loss += loss_fn(outputs, labels).item()
                correct += (outputs.argmax(1) == labels).sum().item()
    return model


def per_run(args) -> dict:
    torch.set_num_threads(args.threads)
    data_settings, specs = resolve_experiments([ROOT / "experiments" / "lesson.yaml"])
    spec = {**specs[args.experiment], "epochs": args.epochs}
    frame = split_frame(data_settings)[0]
    scaler = fit_scaler(frame, data_settings["scaler_fit"])
    data = load_parts(frame, scaler)
    print(f"per run: experiment {args.experiment}, {args.epochs} epochs, torch threads {args.threads}, "
          f"device {args.device}, {platform.processor() or platform.machine()}", flush=True)
    result = {"experiment": args.experiment, "epochs": args.epochs, "threads": args.threads, "device": args.device}
    if not args.skip_lesson:
        times = [lesson_loop(spec, seed, data) for seed in range(args.lesson_repeats)]
        result["lesson_s_per_run"] = statistics.median(times)
        print(f"  lesson loop (DataLoader + nn.Sequential), {args.lesson_repeats} runs: "
              f"{result['lesson_s_per_run']:.2f} s per run (median; {', '.join(f'{t:.2f}' for t in times)})",
              flush=True)
    result["stacked"] = []
    if args.device == "cuda":  # CUDA's context and cuBLAS start once, outside every timed stack
        train_stack({**spec, "epochs": 1}, [0], data, args.device, log=lambda message: None)
        torch.cuda.synchronize()
        result["gpu"] = torch.cuda.get_device_name()
    for k in args.stacks:
        started = time.perf_counter()
        train_stack(spec, list(range(k)), data, args.device, log=lambda message: None)
        if args.device == "cuda":
            torch.cuda.synchronize()
        seconds = time.perf_counter() - started
        row = {"k": k, "s_per_stack": seconds, "s_per_run": seconds / k, "runs_per_s": k / seconds}
        line = f"  stacked K={k:>5}: {seconds:7.2f} s for the stack, {row['s_per_run']:.3f} s per run, " \
               f"{row['runs_per_s']:.1f} runs/s"
        if "lesson_s_per_run" in result:
            row["speedup"] = result["lesson_s_per_run"] / row["s_per_run"]
            line += f", {row['speedup']:.1f}x cheaper than the lesson loop"
        print(line, flush=True)
        result["stacked"].append(row)
    return result


def search_speed(args) -> dict:
    """Trials per second of one search round, trained together (stacks) and one at a time, same trials."""
    import numpy as np

    from lessonbench.jobs.search import train_trials
    from lessonbench.jobs.search_space import sample
    from lessonbench.spec.studies import resolve_search

    torch.set_num_threads(args.threads)
    data_settings, specs = resolve_experiments([ROOT / "experiments" / "lesson.yaml"])
    settings = resolve_search(ROOT / "experiments" / "search.yaml", specs)
    base = settings.pop("base_spec")
    frame = split_frame(data_settings)[0]
    scaler = fit_scaler(frame, data_settings["scaler_fit"])
    data = load_parts(frame, scaler)
    rng = np.random.default_rng(0)
    trials = [sample(settings["space"], rng) for _ in range(settings["trials_per_round"])]
    result = {"trials": len(trials), "epochs": settings["epochs"]}
    for label, together in (("together", True), ("one_at_a_time", False)):
        started = time.perf_counter()
        scores, stacks = train_trials(base, trials, data, settings, torch.device(args.device), together=together)
        seconds = time.perf_counter() - started
        result[label] = {"seconds": seconds, "stacks": stacks, "trials_per_s": len(trials) / seconds}
        print(f"  search round, {len(trials)} trials x {settings['epochs']} epochs, {label.replace('_', ' ')}: "
              f"{stacks} stacks, {seconds:.2f} s, {len(trials) / seconds:.2f} trials/s", flush=True)
    result["speedup"] = result["together"]["trials_per_s"] / result["one_at_a_time"]["trials_per_s"]
    print(f"  trained together: {result['speedup']:.1f}x the trials per second", flush=True)
    return result


def timed(command: list[str], cwd: Path) -> dict:
    """Run command; its wall seconds and the peak RSS (MB) of the largest process it waited for."""
    probe = ("import resource, subprocess, sys, time; t = time.perf_counter(); "
             "r = subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL); "
             "print(r.returncode, time.perf_counter() - t, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)")
    out = subprocess.run([sys.executable, "-c", probe, *command], cwd=cwd, capture_output=True, text=True, check=True)
    code, seconds, peak_kb = out.stdout.split()
    if code != "0":
        raise SystemExit(f"{' '.join(command)} failed in {cwd} (exit {code})")
    return {"command": " ".join(command), "seconds": float(seconds), "peak_mb": int(peak_kb) / 1024}


def scratch_copy(work: Path) -> Path:
    """The repository's tracked files, as they are in the working tree, copied to work (nothing else)."""
    tracked = subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=True).stdout.split()
    for name in tracked:
        if (ROOT / name).is_file():
            (work / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / name, work / name)
    return work


def pipeline(args) -> list[dict]:
    snakemake = str(Path(sys.executable).parent / "snakemake")
    rows = []
    with tempfile.TemporaryDirectory(prefix="lessonbench-bench-") as scratch:
        work = scratch_copy(Path(scratch) / "repo")
        runs = [(f"from clean, --cores {cores}", ["--cores", str(cores)]) for cores in args.cores]
        # the ten lesson experiments (+ constant_init) alone: what the 60 s target is about
        runs.insert(0, (f"from clean, --cores {args.cores[0]}, without the search",
                        ["--cores", str(args.cores[0]), "--config", "search_file=null"]))
        for what, extra in runs:
            shutil.rmtree(work / "results", ignore_errors=True)
            shutil.rmtree(work / ".snakemake", ignore_errors=True)
            row = {"what": what, **timed([snakemake, *extra], work)}
            rows.append(row)
            print(f"  {row['what']}: {row['seconds']:.1f} s, peak job {row['peak_mb']:.0f} MB", flush=True)
        rows.append({"what": "no-op rerun", **timed([snakemake, "--cores", str(args.cores[-1])], work)})
        print(f"  no-op rerun: {rows[-1]['seconds']:.1f} s", flush=True)
        rows.append({"what": "report render", **timed(
            [snakemake, "--cores", "1", "--forcerun", "render_report"], work)})
        print(f"  report render (forced): {rows[-1]['seconds']:.1f} s, peak {rows[-1]['peak_mb']:.0f} MB", flush=True)
    return rows


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--experiment", default="adam", help="a 100-epoch lesson experiment (default adam)")
    p.add_argument("--epochs", type=int, default=100)
    p.add_argument("--stacks", type=int, nargs="+", default=[1, 10, 30, 100])
    p.add_argument("--lesson-repeats", type=int, default=3)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--device", default="cpu", choices=("cpu", "cuda"))
    p.add_argument("--cores", type=int, nargs="+", default=[2, 4])
    p.add_argument("--skip-lesson", action="store_true")
    p.add_argument("--skip-search", action="store_true")
    p.add_argument("--skip-pipeline", action="store_true")
    p.add_argument("--json", help="also write the figures here as JSON")
    args = p.parse_args()
    report = {"host": platform.node(), "cpu": platform.processor() or platform.machine(),
              "cpus": os.cpu_count(), "per_run": per_run(args)}
    if not args.skip_search:
        print("hyperparameter search (experiments/search.yaml, one round):", flush=True)
        report["search"] = search_speed(args)
    if not args.skip_pipeline:
        print("pipeline (scratch copy of the repository):", flush=True)
        report["pipeline"] = pipeline(args)
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=2) + "\n")


if __name__ == "__main__":
    main()
