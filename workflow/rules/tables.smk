rule collect_tables:
    input:
        code=CODE["collect_tables"],
        specs=list(NUMBER_SPEC_FILES.values()),
        split="results/data/split.parquet",
        scaler="results/data/scaler.json",
        runs=all_runs("runs"),
        history=all_runs("history"),
        test_probs=all_runs("test_probs"),
        timing=all_runs("timing"),
        sweep_points=[f"results/sweeps/{sweep['id']}/points.parquet" for sweep in SWEEPS],
    output:
        expand("results/tables/{table}.{ext}", table=TABLES, ext=["parquet", "csv"]),
    params:
        outdir=get_output_dir,
        tuned_base=SEARCH["base"] if SEARCH else "",
    log:
        "results/logs/collect_tables.log",
    resources:
        mem_mb=2000,
        runtime=10,
    threads: 1
    conda:
        CONDA_ENV
    shell:
        "python -m lessonbench collect_tables --specs {input.specs:q} --outdir {params.outdir:q}"
        " --runs {input.runs:q} --history {input.history:q} --test-probs {input.test_probs:q}"
        " --timing {input.timing:q} --split {input.split:q} --scaler {input.scaler:q} --tuned-base={params.tuned_base:q} --sweep-points {input.sweep_points:q}"
        " > {log:q} 2>&1"


# The experiments' titles and descriptions join the numbers here, in the tables people read by name; only this
# job and the report read the prose, so a title edit reruns the two of them.
rule label_tables:
    input:
        code=CODE["label_tables"],
        specs=list(RUN_SPEC_FILES.values()),
        scores="results/tables/scores.parquet",
    output:
        expand("results/tables/{table}.{ext}", table=LABELLED_TABLES, ext=["parquet", "csv"]),
        "results/tables/specs.json",
    params:
        outdir=get_output_dir,
    log:
        "results/logs/label_tables.log",
    resources:
        mem_mb=1000,
        runtime=10,
    threads: 1
    conda:
        CONDA_ENV
    shell:
        "python -m lessonbench label_tables --specs {input.specs:q} --scores {input.scores:q}"
        " --outdir {params.outdir:q} > {log:q} 2>&1"
