rule collect_tables:
    input:
        code=CODE["collect_tables"],
        specs=PLAN.number_spec_files,
        split="results/data/split.parquet",
        scaler="results/data/scaler.json",
        runs=PLAN.all_runs("runs"),
        history=PLAN.all_runs("history"),
        test_probs=PLAN.all_runs("test_probs"),
        timing=PLAN.all_runs("timing"),
        sweep_points=[f"results/sweeps/{sweep['id']}/points.parquet" for sweep in SWEEPS],
    output:
        tables=tables(PLAN.tables),
    params:
        **step("collect_tables", outdir=folder("tables"), tuned_base=SEARCH["base"] if SEARCH else ""),
    log:
        "results/logs/collect_tables.log",
    resources:
        mem_mb=2000,
        runtime=10,
    threads: 1
    conda:
        CONDA_ENV
    shell:
        STEP


# The experiments' titles and descriptions join the numbers here, in the tables people read by name; only this
# job and the report read the prose, so a title edit reruns the two of them.
rule label_tables:
    input:
        code=CODE["label_tables"],
        specs=PLAN.full_spec_files,
        scores="results/tables/scores.parquet",
    output:
        tables=tables(planning.LABELLED_TABLES),
        specs_table="results/tables/specs.json",
    params:
        **step("label_tables", outdir=folder("tables")),
    log:
        "results/logs/label_tables.log",
    resources:
        mem_mb=1000,
        runtime=10,
    threads: 1
    conda:
        CONDA_ENV
    shell:
        STEP
