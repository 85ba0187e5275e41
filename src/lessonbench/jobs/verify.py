"""Determinism, checked by the pipeline: retrain one experiment in scratch space, compare bytes."""

from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path

from lessonbench import fileio
from lessonbench.fileio import log
from lessonbench.jobs.experiment import run_experiment, write_experiment
from lessonbench.report import provenance

DETERMINISTIC_OUTPUTS = ("history", "runs", "test_probs", "weights")


def compare_files(stored: dict, fresh: dict) -> dict[str, bool]:
    """name -> whether the stored and the freshly written file are byte-identical."""
    return {name: Path(stored[name]).read_bytes() == Path(fresh[name]).read_bytes() for name in stored}


def verify_determinism_step(args) -> None:
    stored = {name: getattr(args, name) for name in DETERMINISTIC_OUTPUTS}
    scratch_root = Path(args.output).parent
    scratch_root.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=scratch_root, prefix=".scratch-") as scratch:
        fresh = {name: str(Path(scratch) / Path(path).name) for name, path in stored.items()}
        result = run_experiment(args.experiment, args.spec, args.split, args.scaler, args.threads,
                                args.device, log=log)
        write_experiment(result, {**fresh, "timing": str(Path(scratch) / "timing.json")})
        same = compare_files(stored, fresh)
    verdict = {"experiment": args.experiment, "passed": all(same.values()), "files": same,
               "checked_at": provenance.report_date().strftime("%Y-%m-%dT%H:%M:%SZ")}
    fileio.write_json(verdict, args.output)
    log(f"determinism check of {args.experiment}: {'PASSED' if verdict['passed'] else 'FAILED'} {same}")


def verify_step(args) -> None:
    """Exit non-zero unless the verification record says every file matched."""
    verdict = json.loads(Path(args.record).read_text())
    if not verdict["passed"]:
        mismatched = [name for name, same in verdict["files"].items() if not same]
        log(f"determinism check FAILED for {verdict['experiment']}: {', '.join(mismatched)} differ")
        sys.exit(1)
    log(f"determinism check passed for {verdict['experiment']} at {verdict['checked_at']}: "
        f"{', '.join(verdict['files'])} byte-identical")
