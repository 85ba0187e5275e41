# Each settings file the jobs read: written by this job when its text changes (Snakemake compares the text's
# digest), never while Snakemake plans: an edit reruns the jobs that read the file, a reordered YAML (the same
# canonical JSON) reruns nothing, and `snakemake -n` names the file that changed.
rule write_settings:
    output:
        "results/settings/{kind}/{name}.json",
    params:
        text=lambda wildcards: PLAN.settings[settings(f"{wildcards.kind}/{wildcards.name}")],
    wildcard_constraints:
        kind="|".join(sorted({path.split("/")[2] for path in PLAN.settings})),
    log:
        "results/logs/write_settings/{kind}/{name}.log",
    localrule: True
    conda:
        CONDA_ENV
    shell:
        "printf '%s' {params.text:q} > {output:q}"
