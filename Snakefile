# lessonbench: a lesson's training tricks and its claims, measured over seeds (the digits lesson by default).
# Run: snakemake --cores 4   ->   results/report/report.pdf
import sys
from pathlib import Path

from snakemake.utils import min_version, update_config, validate

min_version("9.0")


configfile: "config/config.yaml"


# Another lesson, a folder of data files, is built in its folder, into its own results/, store and ledger:
# `snakemake --cores 4 --config lesson=examples/wine`. Its files go by their names: lesson.yaml, and claims.yaml,
# sweeps.yaml, search.yaml and illustrations.yaml where it has them; its config.yaml (if any), then the command
# line, say otherwise.
if config.get("lesson") not in (None, "", "null", "none"):
    if not Path(config["lesson"], "lesson.yaml").is_file():
        sys.exit(f"lessonbench: config lesson: {config['lesson']!r} is not a lesson folder (it has no lesson.yaml)")

    workdir: config["lesson"]

    config.pop("verify_experiment", None)
    config.update(
        experiment_files=["lesson.yaml"],
        **{f"{kind}_file": f"{kind}.yaml" if Path(f"{kind}.yaml").exists() else None
           for kind in ("claims", "sweeps", "search", "illustrations")},
    )
    update_config(config, workflow.config_settings.overwrite_config or {})  # the command line still wins
    if Path("config.yaml").exists():

        configfile: "config.yaml"


# `snakemake --report report.zip`: the PDF and key figures with Snakemake's provenance and run times.
report: "workflow/report/workflow.rst"


# A typo in the runtime config is one message (the field, the allowed keys, the closest one), then Snakemake's own
# validation fills the schema's defaults.
sys.path.insert(0, str(Path(workflow.basedir) / "src"))
from lessonbench.spec.files import ConfigError, check_runtime_config

try:
    check_runtime_config(config, Path(workflow.basedir) / "workflow/schemas/config.schema.yaml")
except ConfigError as err:
    sys.exit(f"lessonbench: {err}")
validate(config, "workflow/schemas/config.schema.yaml")


include: "workflow/rules/common.smk"
include: "workflow/rules/settings.smk"
include: "workflow/rules/data.smk"
include: "workflow/rules/train.smk"
include: "workflow/rules/search.smk"
include: "workflow/rules/tables.smk"
include: "workflow/rules/claims.smk"
include: "workflow/rules/sweeps.smk"
include: "workflow/rules/figures.smk"
if PLAN.illustrations:  # the lesson's pictures, where its files have them (config illustrations_file)

    include: "workflow/rules/illustrations.smk"


include: "workflow/rules/report.smk"
include: "workflow/rules/verify.smk"


# Cheap steps run on the head node (or the submitting machine) rather than as cluster jobs.
localrules:
    all,
    collect_tables,
    label_tables,
    check_claims,
    render_report,
    verify,


rule all:
    input:
        get_final_output(),
    default_target: True


# The build ends with its answer on the console: the headline and one line per lesson claim.
onsuccess:
    from lessonbench.report.claims_page import console_summary

    summary = console_summary(Path("results/tables/claims.parquet"))
    if summary:
        print(summary)
