"""One real Snakemake run on the tiny configuration (.test/: 2 seeds, 2 epochs), driven through the CLI.

Checks: dry run, full run, a readable PDF naming every experiment, a second run plans nothing,
touching code or reordering YAML plans nothing, editing one experiment plans only it and what
depends on it, a code edit reruns the steps that run that code, byte-identical tables, weights and PDF
from two clean runs (--cores 4, and every job a process of its own through a cluster executor), bad
input stopping before any job, a diverging experiment and a hostile title rendered safely, a killed job
rerun alone, --keep-going past a failing experiment, and the pipeline's own determinism check.

One clean run (`run_tree`) is shared; a test that changes anything works in its own copy of it (`tree`),
so the tests pass in any order.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import pandas as pd
import psutil
import pytest
import torch
import yaml
from pypdf import PdfReader

from .conftest import ROOT, missing

pytestmark = pytest.mark.workflow
COPY = ["Snakefile", "environment.yml", "profiles", "workflow", "src", "experiments", "config", "report_templates",
        ".test", "examples"]
DETERMINISTIC = [f"results/tables/{t}.{ext}" for t in ("experiments", "history", "runs", "test_probs",
                                                         "leaderboard", "scores", "comparisons", "claims",
                                                         "claim_seeds", "showcase", "data")
                 for ext in ("parquet", "csv")]
# the jobs that run after the tables change: every table, claim and figure step and the report
FROM_THE_TABLES = {"collect_tables": [""], "label_tables": [""], "check_claims": [""], "draw_claims": [""],
                   "draw_figures": [""], "draw_sensitivity": [""], "render_report": [""]}
SEARCH_TABLES = ("tuned_vs_base", "search_trials", "search_rounds", "search_samplers", "search_choice")
DETERMINISTIC += [f"results/tables/{t}.{ext}" for t in SEARCH_TABLES for ext in ("parquet", "csv")]
DETERMINISTIC += [f"results/runs/{exp}/weights.pt" for exp in ("adam", "lesson_best", "tuned")]
DETERMINISTIC += ["results/search/random-0/best.json", "results/report/report.pdf"]
SNAKEMAKE = str(Path(sys.executable).parent / "snakemake")
ENV = {**os.environ, "SOURCE_DATE_EPOCH": "1767225600"}  # a byte-stable PDF
HOSTILE = "<script>alert(1)</script>"


def make_tree(dest: Path) -> Path:
    """A copy of the workflow with the tiny configuration (.test/): every lesson experiment, 2 seeds x 2 epochs."""
    for name in COPY:
        src = ROOT / name
        (shutil.copytree if src.is_dir() else shutil.copy2)(src, dest / name, **(
            {"ignore": shutil.ignore_patterns("__pycache__", "results", ".snakemake", ".lessonbench-store"),
             "symlinks": True} if src.is_dir() else {}))
    for name in TINY:
        shutil.copy2(ROOT / ".test" / "experiments" / f"{name}.yaml", dest / "experiments")
    shutil.copy2(ROOT / ".test" / "config" / "config.yaml", dest / "config" / "config.yaml")
    return dest


TINY = ("tiny", "tiny_search", "tiny_sweeps")


def shortened() -> dict[str, dict]:
    """What .test/experiments holds: the lesson's files, shortened, with a hostile title and a diverging experiment."""
    doc = yaml.safe_load((ROOT / "experiments" / "lesson.yaml").read_text())
    doc["defaults"]["seeds"] = 2
    for entry in doc["experiments"].values():
        entry["epochs"] = 2
    doc["experiments"]["adam"]["title"] = HOSTILE
    doc["experiments"]["diverges"] = {  # ReLU with a huge step: every seed's loss becomes non-finite
        "section": "stress", "title": "Diverges", "epochs": 2,
        "model": {"activation": "relu", "init": {"name": "kaiming_uniform"}},
        "optimizer": {"name": "sgd", "lr": 100.0}}
    search = yaml.safe_load((ROOT / "experiments" / "search.yaml").read_text())
    search["search"].update(epochs=2, rounds=2, trials_per_round=3, keep_top=2, search_seeds=[0])
    sweeps = yaml.safe_load((ROOT / "experiments" / "sweeps.yaml").read_text())
    sweeps["settings"]["seeds"] = 2
    return {"tiny": doc, "tiny_search": search, "tiny_sweeps": sweeps}


def test_the_tiny_configuration_is_the_lessons_shortened():
    """.test/experiments follows the lesson's files: an edit there (a new experiment, a claim's twin) is in the tiny
    tree too, or this fails, naming the file to bring in step."""
    for name, expected in shortened().items():
        path = ROOT / ".test" / "experiments" / f"{name}.yaml"
        assert yaml.safe_load(path.read_text()) == expected, f"{path} is out of step with experiments/"


def snakemake(tree: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess:
    proc = subprocess.run([SNAKEMAKE, "--cores", "2", *args], cwd=tree, capture_output=True, text=True,
                          stdin=subprocess.DEVNULL, timeout=900, env=ENV)
    if check and proc.returncode != 0:
        pytest.fail(f"snakemake {' '.join(args)} failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}")
    return proc


def planned(tree: Path) -> dict[str, list[str]]:
    """rule -> experiments (or '') that a dry run would execute (the settings files it would write aside:
    settings_written)."""
    out = snakemake(tree, "-n").stdout
    jobs: dict[str, list[str]] = {}
    for block in re.split(r"\n(?=(?:local)?rule \w+:)", out):
        match = re.match(r"(?:local)?rule (\w+):", block)
        if match and match.group(1) not in ("all", "write_settings"):
            exp = re.search(r"wildcards: experiment=(\w+)", block)
            jobs.setdefault(match.group(1), []).append(exp.group(1) if exp else "")
    return jobs


def settings_written(out: str) -> list[str]:
    """The settings files a dry run's output would write (rule write_settings), sorted."""
    return sorted(re.findall(r"rule write_settings:\n\s+output: (\S+)", out))


def processes(block: str) -> int:
    """How many processes a training job of a `-n -p` plan trains in (`processes=N` after its JSON job)."""
    return int(re.search(r"processes=(\d+)", block).group(1))


def reverse_keys(value):
    if isinstance(value, dict):
        return {key: reverse_keys(value[key]) for key in reversed(list(value))}
    return value


@pytest.fixture(scope="module")
def run_tree(tmp_path_factory) -> Path:
    tree = make_tree(tmp_path_factory.mktemp("run"))
    jobs = planned(tree)
    assert sorted(jobs["train_experiment"]) == sorted([*yaml.safe_load(
        (tree / "experiments" / "tiny.yaml").read_text())["experiments"], "tuned"])  # the search's choice too
    assert set(jobs) == {"prepare_data", "train_experiment", "collect_tables", "label_tables", "draw_figures",
                         "render_report",
                         "draw_optimizer_paths", "draw_activations", "measure_symmetry", "summarise_models",
                         "search", "summarise_search", "check_claims", "draw_claims",
                         "train_sweep", "draw_sensitivity"}
    assert len(jobs["train_sweep"]) == 8
    assert len(jobs["search"]) == 2  # the narrowing random search and TPE, one search seed
    # a clean run trains every experiment in one process each: no training job asks for more than one core
    plan = snakemake(tree, "-n", "-p", "--cores", "4").stdout
    assert "processes=1 " in plan and not re.search(r"processes=[2-9]", plan)
    # the settings files are jobs' outputs, written when the run starts: planning (and linting) writes nothing
    written = {re.sub(r"\.[0-9a-f]{12}\.json$", "", path) for path in settings_written(plan)}
    assert {"results/settings/numbers/adam", "results/settings/specs/adam", "results/settings/claims/claims",
            "results/settings/data/split"} <= written, written
    assert not (tree / "results").exists()
    snakemake(tree, "--cores", "4")
    return tree


@pytest.fixture
def tree(run_tree, first_run, tmp_path) -> Path:
    """A copy of the finished tiny tree (results, Snakemake's records, the store) for one test to change: each
    test starts from the first clean run, whatever ran before it."""
    dest = tmp_path / "tree"
    shutil.copytree(run_tree, dest, symlinks=True)
    return dest


@pytest.fixture(scope="module")
def first_run(run_tree) -> dict[str, bytes]:
    """The deterministic files as the first clean run left them, before other tests edit the tree."""
    return {name: (run_tree / name).read_bytes() for name in DETERMINISTIC}


# Stands in for a cluster's sbatch/qsub: starts the job script as a process of its own, detached from
# Snakemake, logs the submission and prints the process id as the job id.
SUBMIT = """#!/bin/bash
jobscript="$1"
setsid bash "$jobscript" > "$jobscript.out" 2>&1 < /dev/null &
echo "$(basename "$jobscript") $!" >> submissions.log
echo "$!"
"""


def test_two_clean_runs_give_identical_files(first_run, tmp_path_factory):
    """The second clean run goes through snakemake-executor-plugin-cluster-generic: every job a separate
    process that Snakemake does not start itself, so jobs can only have communicated through files."""
    other = make_tree(tmp_path_factory.mktemp("again"))
    (other / "submit.sh").write_text(SUBMIT)
    (other / "submit.sh").chmod(0o755)
    proc = snakemake(other, "--executor", "cluster-generic", "--cluster-generic-submit-cmd", "./submit.sh",
                     "--jobs", "4", "--latency-wait", "30", "--seconds-between-status-checks", "1")
    (other / "cluster-run.log").write_text(proc.stdout + proc.stderr)
    for name, data in first_run.items():
        assert (other / name).read_bytes() == data, name
    submitted = [line.split() for line in (other / "submissions.log").read_text().splitlines()]
    rules = [script.split(".")[1] for script, _ in submitted]
    assert len({pid for _, pid in submitted}) == len(submitted)  # one process per job
    n_experiments = len(yaml.safe_load((other / "experiments" / "tiny.yaml").read_text())["experiments"])
    assert rules.count("train_experiment") == n_experiments + 1 and rules.count("search") == 2  # + tuned
    assert not {"collect_tables", "check_claims", "render_report", "summarise_search"} & set(rules)  # stay local
    weights = torch.load(other / "results/runs/adam/weights.pt", weights_only=True)
    assert sorted(weights) == [0, 1] and weights[0]["0.weight"].shape == (100, 64)


def test_slurm_profile_dry_run(run_tree):
    """The SLURM profile plans every job with its resources, and a GPU where device: cuda, without a cluster."""
    out = snakemake(run_tree, "--workflow-profile", "profiles/slurm", "-n", "--forceall",
                    "--config", "device=cuda").stdout
    blocks = [b for b in re.split(r"\n(?=(?:local)?rule \w+:)", out) if b.startswith("rule train_experiment:")]
    experiments = yaml.safe_load((run_tree / "experiments" / "tiny.yaml").read_text())["experiments"]
    assert len(blocks) == len(experiments) + 1  # and the search's choice, `tuned`
    for block in blocks:
        assert re.search(r"resources: .*mem_mb=2000.*slurm_partition=PARTITION, slurm_account=ACCOUNT, "
                         r"runtime=60, gpu=1", block), block
    # (which rules stay on the head node is checked by the cluster-generic run: they are never submitted)
    assert "rule render_report:" in out and "rule collect_tables:" in out


def test_seed_chunks_and_search_workers_plan_their_jobs(run_tree):
    """The rules a cluster user switches on (seed_chunk: train_chunk and combine_chunks; search_workers:
    search_worker) are in this DAG, so every rule of the workflow is in some test's."""
    out = snakemake(run_tree, "-n", "--forceall", "--config", "seed_chunk=1", "search_workers=2",
                    "search_storage=postgresql://user:password@host/db").stdout
    jobs = re.findall(r"^(?:local)?rule (\w+):", out, re.M)
    trained = len(yaml.safe_load((run_tree / "experiments" / "tiny.yaml").read_text())["experiments"]) + 1
    assert jobs.count("train_chunk") == 2 * trained and jobs.count("combine_chunks") == trained  # 2 seeds each
    assert jobs.count("search_worker") == 2 and "train_experiment" not in jobs
    rules = set(re.findall(r"(?m)^\s*rule (\w+):", "".join(p.read_text() for p in (ROOT / "workflow").rglob("*.smk"))))
    seen = set(jobs) | set(planned_forced(run_tree)) | {"verify", "verify_determinism"}  # README test runs verify
    assert rules <= seen, rules - seen


def planned_forced(tree: Path) -> list[str]:
    """The rules of a full dry run of the default settings (--forceall)."""
    return re.findall(r"^(?:local)?rule (\w+):", snakemake(tree, "-n", "--forceall").stdout, re.M)


def test_report_names_every_experiment(run_tree, first_run):
    pdf = PdfReader(run_tree / "results" / "report" / "report.pdf")
    text = " ".join(page.extract_text() for page in pdf.pages)
    for exp in yaml.safe_load((run_tree / "experiments" / "tiny.yaml").read_text())["experiments"]:
        assert exp in text
    assert len(pdf.outline) >= 5 and len(pdf.pages) >= 8
    html = (run_tree / "results" / "report" / "report.html").read_text()
    assert "data:image/png;base64," in html and "src=\"results/" not in html
    assert HOSTILE not in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in html


def test_divergence_is_a_result(run_tree, first_run):
    board = pd.read_parquet(run_tree / "results/tables/leaderboard.parquet").set_index("experiment")
    assert board.loc["diverges", "n_diverged"] == 2 and board.loc["diverges", "divergence_rate"] == 1.0
    assert pd.isna(board.loc["diverges", "test_accuracy_mean"])
    assert board.loc["adam", "n_diverged"] == 0
    history = pd.read_parquet(run_tree / "results/tables/history.parquet")
    assert history[history["experiment"] == "diverges"].empty  # curves stop at divergence (epoch 1 here)


def test_rerun_plans_nothing_and_touch_or_reorder_changes_nothing(tree):
    assert planned(tree) == {}
    (tree / "src" / "lessonbench" / "engine" / "training.py").touch()
    path = tree / "experiments" / "tiny.yaml"
    doc = yaml.safe_load(path.read_text())
    # Every mapping's keys reversed, except the order of experiments: that is the report's order.
    doc = {key: reverse_keys(doc[key]) if key != "experiments" else
           {exp: reverse_keys(entry) for exp, entry in doc[key].items()} for key in reversed(list(doc))}
    path.write_text("# a comment changes nothing\n" + yaml.safe_dump(doc, sort_keys=False))
    assert planned(tree) == {}


def test_editing_one_experiment_plans_only_it_and_downstream(tree):
    path = tree / "experiments" / "tiny.yaml"
    original = path.read_text()
    doc = yaml.safe_load(original)
    doc["experiments"]["adam"]["optimizer"]["lr"] = 0.02
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    try:
        assert planned(tree) == {"train_experiment": ["adam"], "train_sweep": [""], **FROM_THE_TABLES}
        # 0.02 is off adam_lr's grid (0.003, 0.01, 0.03): the sweep reads nothing of adam's, so it does not wait
        blocks = re.split(r"\n(?=(?:local)?rule \w+:)", snakemake(tree, "-n", "-p").stdout)
        sweep_job = next(block for block in blocks if block.startswith(("rule train_sweep:", "localrule train_sweep:")))
        inputs = re.search(r"input: (.*)", sweep_job).group(1)
        assert "results/settings/sweeps/adam_lr." in inputs and "results/runs/adam/" not in inputs
        # the one experiment to retrain gets both cores, its seeds (two) split over processes: its sweep trains
        # nothing beside it (the store keeps every other point of the grid, and 0.01 was kept when read back)
        train_job = next(block for block in blocks if "rule train_experiment:" in block)
        assert re.search(r"\n\s*threads: 2\n", train_job) and processes(train_job) == 2, train_job
        assert processes(next(block for block in blocks if "rule train_sweep:" in block)) == 1
        # (how the cores are shared when the sweep trains beside adam: tests/test_planning.py)
    finally:
        path.write_text(original)
    sweep_job = next(block for block in re.split(r"\n(?=(?:local)?rule \w+:)",
                                                 snakemake(tree, "-n", "--forcerun", "train_sweep").stdout)
                     if "wildcards: sweep=adam_lr" in block)
    assert "results/runs/adam/history.parquet" in re.search(r"input: (.*)", sweep_job).group(1)  # 0.01: on it


def test_changing_one_illustration_redraws_only_it(tree):
    path = tree / "experiments" / "illustrations.yaml"
    original = path.read_text()
    path.write_text(original.replace("Adam: {name: adam, lr: 0.3}", "Adam: {name: adam, lr: 0.2}"))
    try:
        assert planned(tree) == {"draw_optimizer_paths": [""], "render_report": [""]}
    finally:
        path.write_text(original)


def test_illustrations_in_the_report(run_tree, first_run):
    text = " ".join(p.extract_text() for p in PdfReader(run_tree / "results/report/report.pdf").pages)
    for words in ("Optimizer paths", "Activation distributions", "Symmetry, measured", "model summaries"):
        assert words in text
    symmetry = pd.read_parquet(run_tree / "results/illustrations/symmetry.parquet")
    constant = symmetry[symmetry["experiment"] == "constant_init"]
    assert (constant["distinct_units"] == 1).all() and len(constant) == 4  # 2 seeds x 2 hidden layers


def test_search_sees_no_test_data_and_a_space_edit_reruns_only_the_search(tree, first_run):
    assert set(pd.read_parquet(tree / "results/data/train_val.parquet")["split"]) == {"train", "val"}
    out = snakemake(tree, "-n", "--forcerun", "search").stdout
    blocks = [b for b in re.split(r"\n(?=(?:local)?rule \w+:)", out) if b.startswith("rule search:")]
    inputs = [re.search(r"input: (.*)", b).group(1) for b in blocks]
    assert len(inputs) == 2 and all("train_val.parquet" in i and "split.parquet" not in i for i in inputs)
    text = " ".join(p.extract_text() for p in PdfReader(tree / "results/report/report.pdf").pages)
    assert "hyperparameter search, run" in text and "Tuned against the lesson's choice" in text
    path = tree / "experiments" / "tiny_search.yaml"
    original = path.read_text()
    path.write_text(original.replace("high: 0.5", "high: 0.4"))
    try:
        assert planned(tree) == {"search": [""] * 2, "summarise_search": [""], "train_experiment": ["tuned"],
                                     **FROM_THE_TABLES}
    finally:
        path.write_text(original)


def test_code_edit_reruns_only_the_steps_that_run_it(tree):
    path = tree / "src" / "lessonbench" / "analysis" / "tables.py"
    original = path.read_text()
    path.write_text(original + "\n# an edit\n")
    try:
        assert planned(tree) == FROM_THE_TABLES
    finally:
        path.write_text(original)


def test_editing_a_claim_trains_nothing(tree, first_run):
    text = " ".join(p.extract_text() for p in PdfReader(tree / "results/report/report.pdf").pages)
    assert "The lesson's claims, checked" in text and "Momentum trains more efficiently" in text
    claims = pd.read_parquet(tree / "results/tables/claims.parquet")
    assert set(claims["claim_id"]) == set(yaml.safe_load((tree / "experiments/claims.yaml").read_text())["claims"])
    path = tree / "experiments" / "claims.yaml"
    original = path.read_text()
    path.write_text(original.replace("        margin: 1.0\n        reason: a change of the gap within one point",
                                     "        margin: 2.0\n        reason: a change of the gap within one point", 1))
    assert path.read_text() != original
    try:
        assert planned(tree) == {"check_claims": [""], "draw_claims": [""], "render_report": [""]}
    finally:
        path.write_text(original)


def test_editing_the_report_template_reruns_only_the_render(tree, first_run):
    """report_templates/ (config `report_templates`) is the render step's input: a template or stylesheet edit
    plans the render and nothing else."""
    for name in ("report.html.j2", "report.css"):
        path = tree / "report_templates" / name
        original = path.read_text()
        path.write_text(original + ("\n{# an edit #}\n" if name.endswith(".j2") else "\n/* an edit */\n"))
        try:
            assert planned(tree) == {"render_report": [""]}, name
        finally:
            path.write_text(original)


def run_with_edit(tree: Path, name: str, old: str, new: str) -> subprocess.CompletedProcess:
    """Run Snakemake with one text edit in file `name`, restoring the file after."""
    path = tree / name
    original = path.read_text()
    assert old in original
    path.write_text(original.replace(old, new, 1))
    try:
        return snakemake(tree, check=False)
    finally:
        path.write_text(original)


def test_without_a_store_a_job_trains_and_keeps_nothing(tree, first_run):
    """`store: null` (the text "null" from `--config store=null` too) means no store: the job trains, writes the
    same bytes, and no folder is made for it."""
    before = (tree / "results" / "runs" / "adam" / "runs.parquet").read_bytes()
    # the target first: --forcerun and --config take every word after them (as `--forcerun train_experiment
    # TARGET` did: it retrained every experiment and everything after them)
    proc = snakemake(tree, "results/runs/adam/runs.parquet", "--force", "--config", "store=null")
    out = proc.stdout + proc.stderr
    assert re.findall(r"^(?:local)?rule (\w+):", out, re.M) == ["train_experiment"], out[-2000:]
    log = (tree / "results" / "logs" / "train_experiment" / "adam.log").read_text()
    assert "reused the stored result" not in log
    assert not (tree / "null").exists()
    assert (tree / "results" / "runs" / "adam" / "runs.parquet").read_bytes() == before


def test_bad_input_stops_before_any_job(tree):
    before = {p: p.stat().st_mtime_ns for p in (tree / "results").rglob("*")}
    proc = run_with_edit(tree, "experiments/tiny.yaml", "lr: 0.01", "momentun: 0.9\n      lr: 0.01")
    assert proc.returncode != 0
    assert "experiments/tiny.yaml" in proc.stderr and "momentun" in proc.stderr, proc.stderr[-2000:]
    assert {p: p.stat().st_mtime_ns for p in (tree / "results").rglob("*")} == before
    proc = run_with_edit(tree, "experiments/claims.yaml", "control: sgd_at_momentum_lr", "control: sgd_lr1")
    assert proc.returncode != 0
    assert ("experiments/claims.yaml: claims.momentum_vs_sgd_same_lr.control: 'sgd_lr1' is not an experiment"
            in proc.stderr)
    assert {p: p.stat().st_mtime_ns for p in (tree / "results").rglob("*")} == before


def edit_experiment(tree: Path, exp: str, **changes) -> str:
    """Set fields of one experiment in the tiny file; return the original text to restore."""
    path = tree / "experiments" / "tiny.yaml"
    original = path.read_text()
    doc = yaml.safe_load(original)
    doc["experiments"][exp].update(changes)
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    return original


def restore(tree: Path, original: str) -> None:
    (tree / "experiments" / "tiny.yaml").write_text(original)


def wait_for(condition, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}")
        time.sleep(0.2)


def training_jobs(proc: subprocess.Popen, experiment: str) -> tuple[list, list]:
    """The train_experiment jobs of one experiment under Snakemake's process: the job's own process, and the
    workers it forked to train its seeds in several processes (when it was given several cores)."""
    found = [p for p in psutil.Process(proc.pid).children(recursive=True)
             if experiment in " ".join(p.cmdline()) and "train_experiment" in p.cmdline()]
    pids = {p.pid for p in found}
    return [p for p in found if p.ppid() not in pids], [p for p in found if p.ppid() in pids]


def test_killed_job_leaves_nothing_and_reruns_alone(tree):
    original = edit_experiment(tree, "l2", epochs=2000)  # long enough to be killed part way
    # (not lesson_best or xavier: the search and the symmetry illustration read those)
    log = tree / "results/logs/train_experiment/l2.log"
    outputs = tree / "results/runs/l2"
    log.unlink()  # the earlier run's log would show progress already
    try:
        with open(tree / "kill-run.log", "w") as out:
            proc = subprocess.Popen([SNAKEMAKE, "--cores", "2"], cwd=tree, env=ENV, stdout=out,
                                    stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
            wait_for(lambda: log.exists() and "epoch" in log.read_text(), 120, "training progress")
            trainers, workers = training_jobs(proc, "l2")
            assert len(trainers) == 1, "training process not found"
            # l2's sweep reads l2 back, so it waits: l2 trains its seeds in both cores' processes
            assert len(workers) == 2, workers
            trainers[0].send_signal(signal.SIGKILL)
            assert proc.wait(timeout=300) != 0
            wait_for(lambda: not any(p.is_running() for p in workers), 10, "the workers to die with their job")
        # Snakemake removed the failed job's outputs and then their emptied folder: had the job left a file
        # (a temporary one, say), the folder would still be there
        assert not outputs.exists(), sorted(p.name for p in outputs.iterdir())
        assert planned(tree) == {"train_experiment": ["l2"], "train_sweep": [""], **FROM_THE_TABLES}
    finally:
        restore(tree, original)
    # the killed job left no lock behind: l2 (back to 2 epochs) comes back from the store at once
    snakemake(tree, "results/runs/l2/runs.parquet")
    assert "reused the stored result" in log.read_text()


def test_keep_going_past_a_failing_experiment(tree):
    # BatchNorm cannot normalise a last batch of one sample: 1077 % 2 == 1, so training raises.
    original = edit_experiment(tree, "batchnorm", batch_size=2)
    edit_experiment(tree, "he_relu", epochs=3)  # no sweep reads he_relu: only it retrains
    before = (tree / "results/runs/he_relu/runs.parquet").stat().st_mtime_ns
    try:
        proc = snakemake(tree, "--keep-going", check=False)
    finally:
        restore(tree, original)
    output = proc.stdout + proc.stderr
    assert proc.returncode != 0
    assert "train_experiment" in output and "results/logs/train_experiment/batchnorm.log" in output, output[-3000:]
    log = (tree / "results/logs/train_experiment/batchnorm.log").read_text()
    assert "experiment 'batchnorm', seeds 0..1: training failed" in log
    assert "batch_size 2 with 1077 training samples leaves a batch of one sample" in log
    assert (tree / "results/runs/he_relu/runs.parquet").stat().st_mtime_ns > before  # the others went on


def test_report_in_a_real_browser(run_tree, first_run):
    """report.html in headless Chromium (Debian's, driven by Selenium through Debian's chromedriver): every
    image decodes, every table-of-contents link lands on an element; a screenshot is kept beside the report."""
    chromium, driver = shutil.which("chromium"), shutil.which("chromedriver")
    if not chromium or not driver:
        missing("Debian's chromium and chromium-driver are not installed here (./setup.sh --tests installs them)")
    from selenium import webdriver

    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--window-size=1200,1600"):
        options.add_argument(arg)
    browser = webdriver.Chrome(options=options, service=webdriver.ChromeService(executable_path=driver))
    try:
        browser.get((run_tree / "results/report/report.html").as_uri())
        images = browser.execute_script(
            "return Array.from(document.images).map(i => [i.alt, i.complete, i.naturalWidth, i.naturalHeight])")
        assert len(images) >= 10 and all(done and w > 0 and h > 0 for _, done, w, h in images), \
            [alt for alt, done, w, h in images if not (done and w > 0)]
        links = browser.execute_script(
            "return Array.from(document.querySelectorAll('nav.toc a')).map(a => [a.getAttribute('href'), "
            "document.getElementById(a.getAttribute('href').slice(1)) !== null])")
        assert len(links) >= 8 and all(found for _, found in links), [href for href, found in links if not found]
        browser.execute_script("document.getElementById('changes').scrollIntoView()")
        shot = run_tree / "results/report/browser_screenshot.png"
        assert browser.save_screenshot(str(shot)) and shot.stat().st_size > 10_000
        print(f"\nbrowser screenshot: {shot}")
    finally:
        browser.quit()


def report_text(tree: Path) -> str:
    """The HTML report's text, tags stripped and spaces collapsed."""
    html = (tree / "results/report/report.html").read_text()
    html = re.sub(r"<style>.*?</style>|data:image/png;base64,[A-Za-z0-9+/=]+", " ", html, flags=re.S)
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html)).replace("&#39;", "'")


def test_changes_since_the_previous_report_and_a_revert_trains_nothing(tree, first_run):
    original = edit_experiment(tree, "adam", optimizer={"name": "adam", "lr": 0.005})
    try:
        snakemake(tree)
    finally:
        restore(tree, original)
    text = report_text(tree)
    start = text.index("Changes since the previous report Compared")
    changes = text[start:text.index(" Summary ", start)]
    assert "adam optimizer.lr 0.01 → 0.005" in changes, changes
    assert "1 changed, 0 added, 0 removed" in changes
    # the edit wrote adam's new settings files and removed the ones they replace (and their logs)
    for kind in ("numbers", "specs"):
        assert len(list((tree / "results/settings" / kind).glob("adam.*.json"))) == 1, kind
        assert len(list((tree / "results/logs/write_settings" / kind).glob("adam.*.log"))) <= 1, kind
    proc = snakemake(tree)  # adam's lr back to 0.01: the stored results come back
    for log in ("train_experiment/adam.log", "train_sweep/adam_lr.log"):
        text = (tree / "results/logs" / log).read_text()
        assert "reused the stored result" in text and "nothing trained" in text and "epoch 1/" not in text, text
    assert (tree / "results/runs/adam/weights.pt").read_bytes() == first_run["results/runs/adam/weights.pt"]
    assert "train_experiment" in proc.stderr  # the job ran, but copied instead of training
    text = report_text(tree)
    assert "adam optimizer.lr 0.005 → 0.01" in text
    history = pd.read_csv(tree / "results/ledger/reports.csv")
    assert history["build"].nunique() >= 3 and set(history["experiment"]) >= {"adam", "sgd_uniform", "tuned"}


def test_killed_snakemake_recovers_with_one_writer(tree):
    """SIGKILL to Snakemake leaves its training job running; the README's recovery (--unlock, run again) at
    once starts a second job for the same files, which waits for the first and takes its stored result."""
    # no sweep reads he_relu: it is the one job; 1000 epochs (~15 s) outlast the kill, --unlock and the next
    # run's start, so the second job finds the first still writing
    original = edit_experiment(tree, "he_relu", epochs=1000)
    log = tree / "results/logs/train_experiment/he_relu.log"
    log.unlink(missing_ok=True)
    try:
        with open(tree / "kill-snakemake.log", "w") as out:
            proc = subprocess.Popen([SNAKEMAKE, "--cores", "2"], cwd=tree, env=ENV, stdout=out,
                                    stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
            wait_for(lambda: log.exists() and "epoch" in log.read_text(), 120, "training progress")
            (trainer,), _ = training_jobs(proc, "he_relu")
            proc.send_signal(signal.SIGKILL)
            proc.wait(timeout=30)
        assert trainer.is_running()  # the orphan goes on writing he_relu's files
        snakemake(tree, "--unlock")
        snakemake(tree)
        text = log.read_text()
        assert not trainer.is_running()
        assert "waiting: another job is still writing" in text and "reused the stored result" in text, text
    finally:
        restore(tree, original)


def test_dry_run_names_the_settings_that_changed_in_short_lines(tree):
    path = tree / "experiments" / "tiny.yaml"
    original = path.read_text()
    doc = yaml.safe_load(original)
    doc["experiments"]["adam_small"] = {**doc["experiments"]["adam"], "title": "Adam, small step",
                                        "optimizer": {"name": "adam", "lr": 0.001}}
    doc["experiments"]["adam"]["optimizer"]["lr"] = 0.02
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    try:
        out = snakemake(tree, "-n").stdout
    finally:
        path.write_text(original)
    reasons = [line.strip() for line in out.splitlines() if line.strip().startswith("reason:")]
    # the settings job writes adam's new settings file (named after its text); the jobs after it name that file
    new = re.search(r"output: (results/settings/numbers/adam\.[0-9a-f]{12}\.json)", out).group(1)
    assert any(line.startswith("reason: Input files updated by another job:") and new in line for line in reasons)
    assert not any("Params have changed" in line for line in reasons), reasons
    # Snakemake's own lists of files (input:, output:, "Input files updated by another job: ...") stay long;
    # every other reason fits on a line, and no line prints settings (the whole experiment list, twice)
    long = [line for line in reasons if len(line) > 300 and "updated by another job" not in line]
    assert not long, long
    assert not [line for line in out.splitlines() if '{"' in line]


def test_an_edit_reruns_though_its_settings_file_has_no_record(tree):
    """Settings files are named after their text: an edit is a new file, so its readers rerun even where Snakemake
    keeps no record of the file's job (a tree whose settings files an older version wrote)."""
    import base64

    for record in (tree / ".snakemake" / "metadata").iterdir():
        if base64.urlsafe_b64decode(record.name + "=" * (-len(record.name) % 4)).startswith(b"results/settings/"):
            record.unlink()
    original = edit_experiment(tree, "adam", optimizer={"name": "adam", "lr": 0.02})
    try:
        assert planned(tree)["train_experiment"] == ["adam"]
    finally:
        restore(tree, original)


def test_cover_counts_added_experiments_and_titles_come_from_the_files(run_tree):
    text = report_text(run_tree)
    # tiny.yaml adds `diverges` (section `stress`, no title given): counted as added, titled from its name
    assert ("11 experiments from the lesson, 10 twins that make its claims one-factor comparisons, 1 added by you"
            in text)
    assert "Optimizers: SGD, Momentum, AdaGrad, Adam" in text and "Stress" in text


def test_figures_print_at_their_drawn_size_with_legible_text(run_tree):
    logs = "".join(p.read_text() for p in (run_tree / "results/logs").rglob("*.log"))
    sizes = re.findall(r"(\S+\.png): ([\d.]+) x ([\d.]+) in, printed at (\d+)%; smallest text ([\d.]+) pt", logs)
    assert len({name for name, *_ in sizes}) >= 12, sizes
    assert all(float(pt) >= 7.0 for *_, pt in sizes), [s for s in sizes if float(s[4]) < 7.0]
    assert all(int(scale) == 100 for *_, scale, _ in sizes), [s for s in sizes if s[3] != "100"]


def readme_commands() -> set[str]:
    """Every `snakemake ...` command the README shows, inline or in a code block, without the set-up prefix."""
    text = (ROOT / "README.md").read_text()
    found = {m.group(1) for m in re.finditer(r"`([^`\n]*snakemake [^`\n]*)`", text)}
    found |= {line.strip() for block in re.findall(r"```bash\n(.*?)```", text, re.S)
              for line in block.splitlines() if "snakemake" in line}
    return {re.sub(r"^(\./setup\.sh && )?\. \.venv/bin/activate && ", "", cmd) for cmd in found}


# Run as written on the finished tiny tree (there they plan nothing, or are cheap by nature) ...
README_AS_WRITTEN = {"snakemake -n", "snakemake --unlock", "snakemake --cores 2", "snakemake --cores 4",
                     "snakemake --cores 4 --keep-going", "snakemake --cores 2 verify",
                     "snakemake --workflow-profile profiles/slurm -n", "snakemake --report report.zip"}
# ... as a dry run (they would train, or submit to SLURM) ...
README_DRY_RUN = {"snakemake --cores 2 --config search_file=null", "snakemake --workflow-profile profiles/slurm",
                  "snakemake --cores 2 --directory .test", "snakemake --cores 4 --config lesson=examples/wine"}
# ... or not here, with the reason.
README_NOT_HERE = {
    "snakemake --cores 4 --software-deployment-method conda": "conda's channels cannot be reached here",
    "snakemake --report": "the command's name in a sentence; `snakemake --report report.zip` is run",
    "snakemake --cores 4 --config 'experiment_files=[\"experiments/lesson.yaml\",\"experiments/mine.yaml\"]'":
        "names the reader's own experiments/mine.yaml",
}


def test_readme_commands_work_as_written(tree):
    commands = readme_commands()
    unknown = commands - README_AS_WRITTEN - README_DRY_RUN - set(README_NOT_HERE)
    assert not unknown, f"the README shows commands this test does not run: {unknown}"
    for cmd in sorted(commands - set(README_NOT_HERE), key=lambda c: ("verify" in c, c)):  # verify last: the
        # report cites its record, so a run after it would render the report again
        args = shlex.split(cmd)[1:] + (["-n"] if cmd in README_DRY_RUN else [])
        proc = subprocess.run([SNAKEMAKE, *args], cwd=tree, capture_output=True, text=True,
                              stdin=subprocess.DEVNULL, timeout=900, env=ENV)
        assert proc.returncode == 0, f"{cmd}:\n{proc.stdout[-2000:]}\n{proc.stderr[-2000:]}"
        if cmd.startswith("snakemake --cores") and cmd not in README_DRY_RUN and "verify" not in cmd:
            assert "Nothing to be done" in proc.stdout + proc.stderr, cmd  # a finished tree: nothing reruns
    with zipfile.ZipFile(tree / "report.zip") as archive:  # `snakemake --report report.zip`: Snakemake's own
        names = archive.namelist()
    for wanted in ("report.pdf", "leaderboard.png", "confusion.png", "search_values.png", "report.html"):
        assert any(name.endswith(wanted) for name in names), (wanted, names[:20])
    # `snakemake --cores 2 verify` retrained lesson_best in scratch space: the same bytes; the report cites it
    assert "determinism check passed for lesson_best" in proc.stdout + proc.stderr
    record = yaml.safe_load((tree / "results/verify/lesson_best.json").read_text())
    assert record["passed"] and record["files"] == dict.fromkeys(["history", "runs", "test_probs", "weights"], True)
    snakemake(tree)  # the report picks up the record
    assert "passed at" in (tree / "results/report/report.html").read_text()


def test_title_edit_plans_what_the_readme_says(tree):
    """The README: a title or description edit reruns label_tables and the report, nothing that computes."""
    for change in ({"title": "Adam, renamed"}, {"description": "Adam, described anew."}):
        original = edit_experiment(tree, "adam", **change)
        try:
            assert planned(tree) == {"label_tables": [""], "render_report": [""]}, change
        finally:
            restore(tree, original)


def test_code_inputs_follow_the_imports(tree):
    """A new module reruns nothing until a step imports it; imported by the ledger, it reruns only the report."""
    extra = tree / "src/lessonbench/analysis/extra.py"
    ledger = tree / "src/lessonbench/analysis/ledger.py"
    original = ledger.read_text()
    extra.write_text("VALUE = 1\n")
    try:
        assert planned(tree) == {}
        ledger.write_text(original.replace("from lessonbench.analysis import stats",
                                           "from lessonbench.analysis import extra, stats  # noqa: F401"))
        assert planned(tree) == {"render_report": [""]}
    finally:
        ledger.write_text(original)
        extra.unlink()
    assert planned(tree) == {}


TABLE_LESSON = {  # no config.yaml: the folder's files go by their names
    "lesson.yaml": """title: Tricks on a hand-made table, measured
samples: flowers
sections: {optimizers: Two optimizers}
data: {source: flowers.csv, label: kind, stratify: true, test_size: 0.25, val_size: 30, split_seed: 1}
defaults:
  origin: lesson
  seeds: 2
  epochs: 3
  batch_size: 8
  model: {hidden: [8], activation: relu, batchnorm: false, dropout: 0.0, init: {name: kaiming_uniform}}
  optimizer: {name: sgd, lr: 0.05}
experiments:
  sgd: {section: optimizers, title: Plain SGD}
  adam: {section: optimizers, title: Adam, optimizer: {name: adam, lr: 0.01}}
""",
    "claims.yaml": """settings: {target: 0.5}
claims:
  adam_vs_sgd:
    section: optimizers
    claim: Adam beats plain SGD.
    treatment: adam
    control: sgd
    factor: [optimizer]
    metrics: {test_accuracy: {expect: higher, margin: 3.0, reason: three points is one of the 30 test flowers}}
""",
}


def flowers(rows: int = 120) -> pd.DataFrame:
    """A table a user might write: two noisy measurements and a class name per row."""
    import numpy as np

    rng = np.random.default_rng(3)
    kind = np.array(["iris", "lily", "rose"])[np.arange(rows) % 3]
    centre = {"iris": 0.0, "lily": 1.0, "rose": 2.0}
    petal = [centre[k] + rng.normal(scale=0.6) for k in kind]
    return pd.DataFrame({"petal_cm": petal, "stem_cm": rng.normal(size=rows) * 3 + 20, "kind": kind})


def test_a_lesson_of_a_table_builds_its_own_report_in_its_folder(tree):
    """A lesson folder with a CSV of its own (string labels) is built with one setting, into its folder: its report
    names its classes and shows a table of its most confident mistakes; the digits lesson's results are untouched.
    Bad data stops the run before any job, naming the file and the column."""
    folder = tree / "lessons" / "flowers"
    folder.mkdir(parents=True)
    for name, text in TABLE_LESSON.items():
        (folder / name).write_text(text)
    before = {p: p.stat().st_mtime_ns for p in (tree / "results").rglob("*")}
    broken = flowers().astype({"stem_cm": object})
    broken.loc[7, "stem_cm"] = "long"
    broken.to_csv(folder / "flowers.csv", index=False)
    proc = snakemake(tree, "--config", "lesson=lessons/flowers", check=False)
    assert proc.returncode != 0 and "flowers.csv: feature column 'stem_cm' is not numeric" in proc.stderr, \
        proc.stderr[-2000:]
    assert not (folder / "results").exists()
    flowers().to_csv(folder / "flowers.csv", index=False)
    snakemake(tree, "--config", "lesson=lessons/flowers")
    assert {p: p.stat().st_mtime_ns for p in (tree / "results").rglob("*")} == before  # the digits lesson's
    dataset = yaml.safe_load((folder / "results/data/dataset.json").read_text())
    assert dataset["classes"] == ["iris", "lily", "rose"] and dataset["image_shape"] is None
    text = report_text(folder)
    assert "Tricks on a hand-made table, measured" in text and "test flowers" in text and "digit" not in text
    assert "Adam beats plain SGD." in text and (folder / "results/ledger/reports.csv").exists()
    mistakes = pd.read_csv(folder / "results/tables/misclassified.csv")  # every mistake, classes by name
    assert list(mistakes.columns) == ["row", "true", "predicted", "p", "petal_cm", "stem_cm"]
    assert set(mistakes["true"]) <= {"iris", "lily", "rose"} and (mistakes["true"] != mistakes["predicted"]).all()
    log = (folder / "results/logs/draw_figures.log").read_text()
    assert "errors.png" in log and "confusion.png" in log
    assert planned(tree) == {}  # and the digits lesson plans nothing
