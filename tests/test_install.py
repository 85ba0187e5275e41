"""A non-editable install (a built wheel, not this checkout) finds its schemas and templates."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys

from .conftest import ROOT

CHECK = """
import sys
from pathlib import Path

import lessonbench
from lessonbench.spec.studies import resolve_claims, resolve_sweeps
from lessonbench.spec.config import resolve_experiments
from lessonbench.report.render import environment

assert Path(lessonbench.__file__).resolve().is_relative_to(Path(sys.argv[1]).resolve()), lessonbench.__file__
data, specs = resolve_experiments([sys.argv[2] + "/experiments/lesson.yaml"])
claims, _ = resolve_claims(sys.argv[2] + "/experiments/claims.yaml", list(specs) + ["tuned"],
                           later=lambda exp: exp == "tuned" or exp.endswith("_best"))
sweeps = resolve_sweeps(sys.argv[2] + "/experiments/sweeps.yaml", specs)
env = environment()
env.get_template("report.html.j2")
assert "@page" in env.loader.get_source(env, "report.css")[0]
print(len(specs), len(claims), len(sweeps))
"""


def test_an_installed_package_finds_its_schemas_and_templates(tmp_path):
    target = tmp_path / "site-packages"
    # setuptools builds in the checkout's build/ (git-ignored) and copies what it finds there into the wheel: a
    # build/ left from an earlier layout would ship modules that no longer exist
    shutil.rmtree(ROOT / "build", ignore_errors=True)
    proc = subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation",
                           "--disable-pip-version-check", "--target", str(target), str(ROOT)],
                          capture_output=True, text=True, stdin=subprocess.DEVNULL, timeout=600)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert not (target / "lessonbench" / "__editable__").exists()
    assert (target / "lessonbench" / "spec" / "schemas").is_dir()
    assert (target / "lessonbench" / "report" / "templates" / "report.html.j2").is_file()  # copied from the link
    env = {**os.environ, "PYTHONPATH": str(target)}  # the installed copy, not src/
    proc = subprocess.run([sys.executable, "-c", CHECK, str(target), str(ROOT)], capture_output=True, text=True,
                          cwd=tmp_path, env=env, stdin=subprocess.DEVNULL, timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert proc.stdout.split() == ["21", "20", "8"]  # experiments, claims that need no later step, sweeps
