# Each settings file the jobs read, written by this job from the plan. Its name carries its text's digest
# (KIND/NAME.DIGEST.json), so an edit is a new file: the jobs that read it rerun, and `snakemake -n` names it;
# a reordered YAML (the same canonical JSON) is the same file and reruns nothing. Nothing is written while
# Snakemake plans; the file this one replaces (and its empty log) is removed.
rule write_settings:
    output:
        "results/settings/{kind}/{name}.{digest}.json",
    params:
        text=lambda wildcards: PLAN.settings[f"results/settings/{wildcards.kind}/{wildcards.name}.{wildcards.digest}.json"],
    wildcard_constraints:
        kind="|".join(sorted({path.split("/")[2] for path in PLAN.settings})),
        name="[^/.]+",
        digest="[0-9a-f]{12}",
    log:
        "results/logs/write_settings/{kind}/{name}.{digest}.log",
    localrule: True
    conda:
        CONDA_ENV
    shell:
        "for old in results/settings/{wildcards.kind}/{wildcards.name}.*.json"
        " results/logs/write_settings/{wildcards.kind}/{wildcards.name}.*.log; do"
        ' [ "$old" = {output:q} ] || [ "$old" = {log:q} ] || rm -f "$old"; done;'
        " printf '%s' {params.text:q} > {output:q}"
