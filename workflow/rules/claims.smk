# The lesson's claims (experiments/claims.yaml): one-factor paired comparisons with verdicts, read
# from the tables; editing the claims file reruns these two jobs and the report, never training.
# They are the longest chain between the tables and the report (check, then draw), so when more jobs can run
# than there are cores (after collect_tables: the figures, label_tables) they go first.


rule check_claims:
    input:
        code=CODE["check_claims"],
        claims=CLAIMS_SETTINGS,
        specs=list(NUMBER_SPEC_FILES.values()),
        tables=rules.collect_tables.output,
    output:
        expand("results/tables/{table}.{ext}", table=["claims", "claim_seeds", "claims_left_out", "claim_timings"],
               ext=["parquet", "csv"]),
    params:
        tables=get_tables_dir,
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
        "python -m lessonbench check_claims --claims {input.claims:q} --specs {input.specs:q}"
        " --tables {params.tables:q} --outdir {params.tables:q} > {log:q} 2>&1"


rule draw_claims:
    input:
        code=CODE["draw_claims"],
        claims=rules.check_claims.output,
        tables=rules.collect_tables.output,
    output:
        CLAIM_FIGURES,
    params:
        tables=get_tables_dir,
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
        "python -m lessonbench draw_claims --tables {params.tables:q}"
        " --figures {output:q} > {log:q} 2>&1"
