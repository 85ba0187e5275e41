"""Where a report came from: code version, packages, machine, date."""

from __future__ import annotations

import datetime as dt
import os
import platform
import subprocess
from importlib import metadata
from pathlib import Path

PACKAGES = ("torch", "snakemake", "scikit-learn", "numpy", "pandas", "pyarrow", "scipy",
            "matplotlib", "seaborn", "jinja2", "weasyprint", "optuna", "torchinfo")


CHECKOUT = Path(__file__).resolve().parents[3]  # src/lessonbench/report/ -> the checkout the code runs from


def git_state(cwd=CHECKOUT) -> dict:
    """Commit hash of the code's checkout (wherever the lesson's folder is) and whether tracked files differ from it
    ('unknown' outside a git checkout: an installed package)."""
    def run(*args):
        return subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, check=True).stdout.strip()
    try:
        commit = run("rev-parse", "HEAD")
        dirty = bool(run("status", "--porcelain", "--untracked-files=no"))
    except (OSError, subprocess.CalledProcessError):
        return {"commit": "unknown", "dirty": None}
    return {"commit": commit, "dirty": dirty}


def package_versions() -> dict:
    out = {}
    for name in PACKAGES:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = "not installed"
    return out


def cpu_name() -> str:
    try:
        with open("/proc/cpuinfo") as fh:
            for line in fh:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def report_date() -> dt.datetime:
    """SOURCE_DATE_EPOCH when set (reproducible builds), else now; UTC."""
    epoch = os.environ.get("SOURCE_DATE_EPOCH")
    if epoch:
        return dt.datetime.fromtimestamp(int(epoch), tz=dt.UTC)
    return dt.datetime.now(tz=dt.UTC).replace(microsecond=0)


def collect() -> dict:
    return {"git": git_state(), "packages": package_versions(), "cpu": cpu_name(),
            "python": platform.python_version(), "platform": platform.platform(), "date": report_date(),
            "reproducible": "SOURCE_DATE_EPOCH" in os.environ}
