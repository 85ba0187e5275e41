"""Figures: the job-seconds of a Snakemake run, rule by rule, from Snakemake's own log of it.

    python benchmarks/job_seconds.py .snakemake/log/<the run>.snakemake.log
    python benchmarks/job_seconds.py A.log B.log          # two runs side by side (before, after), with ratios

A job's seconds are from the timestamp of its start to that of its `Finished jobid` line (whole seconds, as
Snakemake logs them); a rule's figure is the sum over its jobs. Training is the rules that train models
(train_experiment, train_sweep, search). Timings are machine facts: nothing is asserted.
"""

from __future__ import annotations

import argparse
import re
from collections import defaultdict
from datetime import datetime
from pathlib import Path

TRAINING = ("train_experiment", "train_sweep", "search")
STAMP = re.compile(r"^\[(\w{3} \w{3} +\d+ \d\d:\d\d:\d\d \d{4})\]$")


def job_seconds(log: Path) -> dict[str, float]:
    """rule -> the summed wall seconds of its jobs in this log."""
    started, rule_of, totals = {}, {}, defaultdict(float)
    stamp, rule = None, None
    for line in log.read_text().splitlines():
        if m := STAMP.match(line):
            stamp = datetime.strptime(m.group(1), "%a %b %d %H:%M:%S %Y")
        elif m := re.match(r"^(?:local)?rule (\w+):$", line):
            rule = m.group(1)
        elif (m := re.match(r"^\s+jobid: (\d+)$", line)) and rule:
            started[m.group(1)], rule_of[m.group(1)] = stamp, rule
            rule = None
        elif m := re.match(r"^Finished jobid: (\d+)", line):
            job = m.group(1)
            if job in started:
                totals[rule_of[job]] += (stamp - started[job]).total_seconds()
    return dict(totals)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("logs", type=Path, nargs="+")
    args = p.parse_args()
    runs = [job_seconds(log) for log in args.logs]
    rules = sorted(set().union(*runs), key=lambda r: -max(run.get(r, 0) for run in runs))
    print("| rule | " + " | ".join(f"run {i + 1} (s)" for i in range(len(runs))) + (" | ratio |" if len(runs) == 2
                                                                                       else " |"))
    print("|---" * (len(runs) + 1 + (len(runs) == 2)) + "|")

    def row(name, values):
        ratio = f" | {values[1] / values[0]:.2f}" if len(values) == 2 and values[0] else (" | " if len(values) == 2
                                                                                          else "")
        print(f"| {name} | " + " | ".join(f"{v:.0f}" for v in values) + ratio + " |")

    for rule in rules:
        row(rule, [run.get(rule, 0.0) for run in runs])
    row("**training** (" + ", ".join(TRAINING) + ")", [sum(run.get(r, 0.0) for r in TRAINING) for run in runs])
    row("**all jobs**", [sum(run.values()) for run in runs])


if __name__ == "__main__":
    main()
