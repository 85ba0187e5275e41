"""The code base passes ruff and `snakemake --lint`, so a lint failure fails CI like any other test."""

import subprocess
import sys
from pathlib import Path

from .conftest import ROOT


def test_ruff_is_clean():
    ruff = Path(sys.executable).parent / "ruff"
    proc = subprocess.run([str(ruff), "check", "src", "tests", "benchmarks"], cwd=ROOT, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_snakemake_lint_is_clean():
    """`snakemake --lint` finds nothing: a conda environment and a log per rule, no hard-coded paths in params,
    workflow Python only in workflow/rules/common.smk."""
    snakemake = Path(sys.executable).parent / "snakemake"
    proc = subprocess.run([str(snakemake), "--lint"], cwd=ROOT, capture_output=True, text=True,
                          stdin=subprocess.DEVNULL)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0 and "Lints for" not in out and "Congratulations" in out, out


def test_conda_environment_matches_pyproject():
    """environment.yml (every rule's `conda:`) pins what pyproject.toml pins (with the cluster extra: a job that
    reads a search study in PostgreSQL needs its driver), for the same Python."""
    import tomllib

    import yaml

    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    pip = next(item["pip"] for item in env["dependencies"] if isinstance(item, dict))
    assert pip == project["dependencies"] + project["optional-dependencies"]["cluster"]
    assert "python=3.11" in env["dependencies"] and project["requires-python"] == ">=3.11,<3.12"


def test_each_step_has_one_name():
    """A rule runs the step of its own name (`step("NAME", ...)`), which calls NAME_step in the module cli.STEPS
    names for it; every step is some rule's."""
    import importlib
    import re

    from lessonbench.cli import STEPS

    rules = {}
    for path in sorted((ROOT / "workflow" / "rules").glob("*.smk")):
        blocks = re.split(r"(?m)^\s*rule (\w+):", path.read_text())
        for name, body in zip(blocks[1::2], blocks[2::2]):
            rules[name] = re.findall(r'\*\*step\("(\w+)"', body)
    steps = {name: found for name, found in rules.items() if name not in ("all", "write_settings")}
    assert all(found == [name] for name, found in steps.items()), steps
    assert set(steps) == set(STEPS)
    for step, module in STEPS.items():
        assert callable(getattr(importlib.import_module(f"lessonbench.{module}"), f"{step}_step"))
