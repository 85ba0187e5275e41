"""One real Snakemake run on a tiny configuration (2 seeds, 2 epochs), driven through the CLI.

Checks: dry run, full run, a readable PDF naming every experiment, a second run plans nothing,
touching code or reordering YAML plans nothing, editing one experiment plans only it and what
depends on it, a code edit reruns the steps that run that code, byte-identical tables from two
clean runs, and bad input stopping before any job.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from pypdf import PdfReader

from .conftest import ROOT

pytestmark = pytest.mark.workflow
COPY = ["Snakefile", "workflow", "src", "experiments", "config", "report_templates"]
DETERMINISTIC = ["experiments", "history", "runs", "test_probs", "leaderboard", "comparisons"]
SNAKEMAKE = str(Path(sys.executable).parent / "snakemake")


def make_tree(dest: Path) -> Path:
    """A copy of the workflow with a tiny experiment file: every lesson experiment, 2 seeds x 2 epochs."""
    for name in COPY:
        src = ROOT / name
        (shutil.copytree if src.is_dir() else shutil.copy2)(src, dest / name, **(
            {"ignore": shutil.ignore_patterns("__pycache__")} if src.is_dir() else {}))
    doc = yaml.safe_load((ROOT / "experiments" / "lesson.yaml").read_text())
    doc["defaults"]["seeds"] = 2
    for entry in doc["experiments"].values():
        entry["epochs"] = 2
    (dest / "experiments" / "tiny.yaml").write_text(yaml.safe_dump(doc, sort_keys=False))
    (dest / "config" / "config.yaml").write_text("experiment_files: [experiments/tiny.yaml]\ntorch_threads: 1\n")
    return dest


def snakemake(tree: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess:
    proc = subprocess.run([SNAKEMAKE, "--cores", "2", *args], cwd=tree, capture_output=True, text=True,
                          stdin=subprocess.DEVNULL, timeout=900)
    if check and proc.returncode != 0:
        pytest.fail(f"snakemake {' '.join(args)} failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}")
    return proc


def planned(tree: Path) -> dict[str, list[str]]:
    """rule -> experiments (or '') that a dry run would execute."""
    out = snakemake(tree, "-n").stdout
    jobs: dict[str, list[str]] = {}
    for block in re.split(r"\n(?=(?:local)?rule \w+:)", out):
        match = re.match(r"(?:local)?rule (\w+):", block)
        if match and match.group(1) != "all":
            exp = re.search(r"wildcards: experiment=(\w+)", block)
            jobs.setdefault(match.group(1), []).append(exp.group(1) if exp else "")
    return jobs


def reverse_keys(value):
    if isinstance(value, dict):
        return {key: reverse_keys(value[key]) for key in reversed(list(value))}
    return value


@pytest.fixture(scope="module")
def run_tree(tmp_path_factory) -> Path:
    tree = make_tree(tmp_path_factory.mktemp("run"))
    jobs = planned(tree)
    assert sorted(jobs["train_experiment"]) == sorted(yaml.safe_load(
        (tree / "experiments" / "tiny.yaml").read_text())["experiments"])
    assert set(jobs) == {"prepare_data", "train_experiment", "collect_tables", "draw_figures", "render_report"}
    snakemake(tree)
    return tree


def test_report_names_every_experiment(run_tree):
    pdf = PdfReader(run_tree / "results" / "report" / "report.pdf")
    text = " ".join(page.extract_text() for page in pdf.pages)
    for exp in yaml.safe_load((run_tree / "experiments" / "tiny.yaml").read_text())["experiments"]:
        assert exp in text
    assert len(pdf.outline) >= 5 and len(pdf.pages) >= 8
    html = (run_tree / "results" / "report" / "report.html").read_text()
    assert "data:image/png;base64," in html and "src=\"results/" not in html


def test_rerun_plans_nothing_and_touch_or_reorder_changes_nothing(run_tree):
    assert planned(run_tree) == {}
    (run_tree / "src" / "lessonbench" / "training.py").touch()
    path = run_tree / "experiments" / "tiny.yaml"
    doc = yaml.safe_load(path.read_text())
    # Every mapping's keys reversed, except the order of experiments: that is the report's order.
    doc = {key: reverse_keys(doc[key]) if key != "experiments" else
           {exp: reverse_keys(entry) for exp, entry in doc[key].items()} for key in reversed(list(doc))}
    path.write_text("# a comment changes nothing\n" + yaml.safe_dump(doc, sort_keys=False))
    assert planned(run_tree) == {}


def test_editing_one_experiment_plans_only_it_and_downstream(run_tree):
    path = run_tree / "experiments" / "tiny.yaml"
    original = path.read_text()
    doc = yaml.safe_load(original)
    doc["experiments"]["adam"]["optimizer"]["lr"] = 0.02
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    try:
        assert planned(run_tree) == {"train_experiment": ["adam"], "collect_tables": [""],
                                     "draw_figures": [""], "render_report": [""]}
    finally:
        path.write_text(original)


def test_code_edit_reruns_only_the_steps_that_run_it(run_tree):
    path = run_tree / "src" / "lessonbench" / "tables.py"
    original = path.read_text()
    path.write_text(original + "\n# an edit\n")
    try:
        assert planned(run_tree) == {"collect_tables": [""], "draw_figures": [""], "render_report": [""]}
    finally:
        path.write_text(original)


def test_two_clean_runs_give_identical_tables(run_tree, tmp_path_factory):
    other = make_tree(tmp_path_factory.mktemp("again"))
    snakemake(other, "--cores", "1")  # a different --cores must not change a bit
    for table in DETERMINISTIC:
        for ext in ("parquet", "csv"):
            name = f"results/tables/{table}.{ext}"
            assert (run_tree / name).read_bytes() == (other / name).read_bytes(), name
    for exp in ("adam", "lesson_best"):
        name = f"results/runs/{exp}/weights.pt"
        assert (run_tree / name).read_bytes() == (other / name).read_bytes(), name


def test_bad_input_stops_before_any_job(run_tree):
    path = run_tree / "experiments" / "tiny.yaml"
    original = path.read_text()
    before = {p: p.stat().st_mtime_ns for p in (run_tree / "results").rglob("*")}
    path.write_text(original.replace("lr: 0.01", "momentun: 0.9\n      lr: 0.01", 1))
    try:
        proc = snakemake(run_tree, check=False)
    finally:
        path.write_text(original)
    assert proc.returncode != 0
    assert "experiments/tiny.yaml" in proc.stderr and "momentun" in proc.stderr, proc.stderr[-2000:]
    assert {p: p.stat().st_mtime_ns for p in (run_tree / "results").rglob("*")} == before
