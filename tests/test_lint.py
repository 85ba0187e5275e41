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
    """environment.yml (every rule's `conda:`) pins what pyproject.toml pins, for the same Python."""
    import tomllib

    import yaml

    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    pip = next(item["pip"] for item in env["dependencies"] if isinstance(item, dict))
    assert pip == project["dependencies"]
    assert "python=3.11" in env["dependencies"] and project["requires-python"] == ">=3.11,<3.12"
