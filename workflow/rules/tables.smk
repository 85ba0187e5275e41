TABLES = ["experiments", "history", "runs", "test_probs", "leaderboard", "comparisons", "timings"]


rule collect_tables:
    input:
        code=CODE["tables"],
        runs=expand("results/runs/{experiment}/runs.parquet", experiment=EXPERIMENTS),
        history=expand("results/runs/{experiment}/history.parquet", experiment=EXPERIMENTS),
        test_probs=expand("results/runs/{experiment}/test_probs.parquet", experiment=EXPERIMENTS),
        timing=expand("results/runs/{experiment}/timing.json", experiment=EXPERIMENTS),
    output:
        expand("results/tables/{table}.{ext}", table=TABLES, ext=["parquet", "csv"]),
    params:
        specs=canonical_json(list(SPECS.values())),
        outdir="results/tables",
    log:
        "results/logs/collect_tables.log",
    threads: 1
    shell:
        "python -m lessonbench collect --specs {params.specs:q} --outdir {params.outdir:q}"
        " --runs {input.runs:q} --history {input.history:q} --test-probs {input.test_probs:q}"
        " --timing {input.timing:q} > {log:q} 2>&1"
