TABLES = ["experiments", "history", "runs", "test_probs", "leaderboard", "comparisons", "timings"]
TABLES += ["tuned_vs_base"] if SEARCH else []
TABLES += ["sweep_points", "sweep_summary"] if SWEEPS else []


rule collect_tables:
    input:
        code=CODE["tables"],
        specs=list(SPEC_FILES.values()),
        runs=expand("results/runs/{experiment}/runs.parquet", experiment=RUNS),
        history=expand("results/runs/{experiment}/history.parquet", experiment=RUNS),
        test_probs=expand("results/runs/{experiment}/test_probs.parquet", experiment=RUNS),
        timing=expand("results/runs/{experiment}/timing.json", experiment=RUNS),
        spec_files=([f"results/search/random-{SEARCH['search_seeds'][0]}/best.json"] if SEARCH else [])
        + [f"results/sweeps/{sweep['id']}/best.json" for sweep in SWEEPS],
        sweep_points=[f"results/sweeps/{sweep['id']}/points.parquet" for sweep in SWEEPS],
    output:
        expand("results/tables/{table}.{ext}", table=TABLES, ext=["parquet", "csv"]),
        "results/tables/specs.json",
    params:
        outdir=get_output_dir,
    log:
        "results/logs/collect_tables.log",
    resources:
        mem_mb=2000,
        runtime=10,
    threads: 1
    conda:
        CONDA_ENV
    shell:
        "python -m lessonbench collect --specs {input.specs:q} --outdir {params.outdir:q}"
        " --runs {input.runs:q} --history {input.history:q} --test-probs {input.test_probs:q}"
        " --timing {input.timing:q} --spec-files {input.spec_files:q} --sweep-points {input.sweep_points:q}"
        " > {log:q} 2>&1"
