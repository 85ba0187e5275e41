# The lesson's claims (experiments/claims.yaml): one-factor paired comparisons with verdicts, read
# from the tables; editing the claims file reruns these two jobs and the report, never training.
# They are the longest chain between the tables and the report (check, then draw), so when more jobs can run
# than there are cores (after collect_tables: the figures, label_tables) they go first.
rule check_claims:
    input:
        code=CODE["check_claims"],
        claims=settings("claims/claims"),
        specs=PLAN.number_spec_files,
        table_files=rules.collect_tables.output.tables,
    output:
        claim_tables=tables(planning.CLAIM_TABLES),
    params:
        **step("check_claims", tables=folder("table_files"), outdir=folder("claim_tables")),
    log:
        "results/logs/check_claims.log",
    priority: 1
    resources:
        mem_mb=1000,
        runtime=10,
    threads: 1
    conda:
        CONDA_ENV
    shell:
        STEP


rule draw_claims:
    input:
        code=CODE["draw_claims"],
        claim_tables=rules.check_claims.output.claim_tables,
        table_files=rules.collect_tables.output.tables,
    output:
        figures=PLAN.claim_figures,
    params:
        **step("draw_claims", tables=folder("table_files")),
    log:
        "results/logs/draw_claims.log",
    priority: 1
    resources:
        mem_mb=1000,
        runtime=10,
    threads: 1
    conda:
        CONDA_ENV
    shell:
        STEP
