# lessonbench: the training-tricks lesson on sklearn digits, measured over seeds.
# Run: snakemake --cores 4   ->   results/report/report.pdf
from snakemake.utils import min_version, validate

min_version("9.0")


configfile: "config/config.yaml"


validate(config, "workflow/schemas/config.schema.yaml")


include: "workflow/rules/common.smk"
include: "workflow/rules/data.smk"
include: "workflow/rules/train.smk"
include: "workflow/rules/search.smk"
include: "workflow/rules/tables.smk"
include: "workflow/rules/figures.smk"
include: "workflow/rules/illustrations.smk"
include: "workflow/rules/report.smk"
include: "workflow/rules/verify.smk"


rule all:
    input:
        get_final_output(),
    default_target: True
