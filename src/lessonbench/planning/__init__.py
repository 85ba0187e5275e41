"""The workflow's plan: from the runtime config to what each job reads, writes and is told (no Snakemake here).

`workflow/rules/common.smk` builds one `Plan` when Snakemake starts and hands its values to the rules; every
decision about experiments, files, settings and cores is made here, where it is tested as plain Python
(tests/test_planning.py). Nothing is written: the settings files are the outputs of the workflow's
`write_settings` job, whose text comes from `Plan.settings`.
"""

from lessonbench.planning.cores import PlannedJob, sweep_points_kept, train_threads
from lessonbench.planning.jobs import files_hash, job_json
from lessonbench.planning.plan import (
                                       CLAIM_TABLES,
                                       DETERMINISTIC_RUN_FILES,
                                       FIGURES,
                                       LABELLED_TABLES,
                                       SEARCH_TABLES,
                                       Plan,
                                       digest,
                                       run_files,
                                       tables,
                                       verification,
)

__all__ = ["CLAIM_TABLES", "DETERMINISTIC_RUN_FILES", "FIGURES", "LABELLED_TABLES", "SEARCH_TABLES", "Plan",
           "PlannedJob", "digest", "files_hash", "job_json", "run_files", "sweep_points_kept", "tables",
           "train_threads", "verification"]
