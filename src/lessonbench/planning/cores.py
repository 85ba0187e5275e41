"""How many processes a training job trains in on this machine: the spare cores when few jobs train."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from lessonbench.planning.plan import Plan

# The steps that train: with cores to spare, the experiments among them share the cores (train_threads).
TRAINING_STEPS = {"train_experiment", "train_chunk", "train_sweep", "search", "search_worker"}


@dataclass
class PlannedJob:
    """A job Snakemake is about to run, as the plan needs to know it: its step and wildcards."""

    step: str
    wildcards: dict


def train_threads(plan: Plan, job: PlannedJob, needrun: list[PlannedJob], cores: int,
                  points_kept=lambda sweep, new_data: False) -> int:
    """The cores of a job that trains several stacks (an experiment's seeds, a sweep's points) on this machine:
    more than one only when few of them run (one experiment edited, say). The experiments about to retrain and
    the sweeps that train beside them share the cores the searches leave; a sweep that reads back an experiment
    about to retrain runs after it, and the sweeps that wait so share the cores then. A sweep whose every point
    the store keeps (`points_kept`) trains nothing: it counts for none. The job trains in that many processes;
    the files are the same (a seed's numbers do not depend on which seeds share its stack; a point is one stack).
    When many retrain (a clean run), each trains in one process, where a stack of ten seeds is most efficient."""
    jobs = [j for j in needrun if j.step in TRAINING_STEPS]
    experiments = [j for j in jobs if j.step == "train_experiment"]
    retraining = {j.wildcards["experiment"] for j in experiments}
    sweeps = [j.wildcards["sweep"] for j in jobs if j.step == "train_sweep"]
    waiting = [s for s in sweeps if plan.sweep_reads_experiment(s) and plan.sweep(s)["experiment"] in retraining]
    new_data = any(j.step == "prepare_data" for j in needrun)
    beside = [s for s in sweeps if s not in waiting and not points_kept(s, new_data)]
    fixed = len(jobs) - len(experiments) - len(sweeps)  # searches, seed chunks: one core each
    if job.step == "train_experiment":
        units, peers = plan.seeds(job.wildcards["experiment"]), len(experiments) + len(beside)
    elif job.step == "train_sweep" and job.wildcards["sweep"] in waiting + beside:
        sweep = job.wildcards["sweep"]
        units = len(plan.sweep(sweep)["values"])
        peers = len(waiting) if sweep in waiting else len(experiments) + len(beside)
    else:
        return 1
    return max(1, min((cores - fixed) // peers, units)) if peers else 1  # no peers: the DAG is not known yet


def sweep_points_kept(plan: Plan, sweep_id: str, new_data: bool) -> bool:
    """Whether the store holds every point of the sweep (its tuning seeds at each value), under the keys the sweep
    job will ask for (with its settings, data files and code). Only the cores other jobs get depend on the answer,
    never a file."""
    import importlib.metadata
    import json

    from lessonbench import store
    from lessonbench.spec.config import sweep_point_spec, training_spec

    split, scaler = "results/data/split.parquet", "results/data/scaler.json"
    if not plan.store or new_data or not (Path(split).exists() and Path(scaler).exists()):
        return False
    sweep = json.loads(plan.settings[plan.settings_file(f"sweeps/{sweep_id}")])  # what the job reads
    seeds, version = sweep["tuning_seeds"], importlib.metadata.version("torch")
    return all(store.has(plan.store, store.sweep_point_key(
        training_spec(sweep_point_spec(sweep, value)), seeds, plan.config["device"], {"split": split, "scaler": scaler},
        plan.config["torch_threads"], torch_version=version)) for value in sweep["values"])
