# Sensitivity sweeps (experiments/sweeps.yaml): one job per sweep trains every value x seed (its points in
# several processes when few jobs train: train_threads), reads the experiment's own value back, chooses the best
# value on validation data and scores only that point on the test set, as the experiment `<sweep>_best`.
rule train_sweep:
    input:
        unpack(lambda wildcards: PLAN.sweep_experiment_files(wildcards.sweep)),
        code=CODE["train_sweep"],
        sweep=lambda wildcards: settings(f"sweeps/{wildcards.sweep}"),
        split="results/data/split.parquet",
        scaler="results/data/scaler.json",
    output:
        points="results/sweeps/{sweep}/points.parquet",
        best="results/sweeps/{sweep}/best.json",
        spec="results/sweeps/{sweep}/spec.json",
        **run_files("results/runs/{sweep}_best"),
    params:
        **step("train_sweep", threads=config["torch_threads"], device=config["device"], store=STORE),
    log:
        "results/logs/train_sweep/{sweep}.log",
    wildcard_constraints:
        sweep="|".join(sweep["id"] for sweep in SWEEPS) or "no-sweeps",
    resources:
        mem_mb=lambda wildcards, threads: 1500 + 500 * threads,  # one process per core
        runtime=60,
        gpu=GPUS,
    threads: train_threads
    conda:
        CONDA_ENV
    shell:
        TRAINING_STEP


rule draw_sensitivity:
    input:
        code=CODE["draw_sensitivity"],
        table_files=rules.collect_tables.output.tables,
    output:
        figure="results/figures/sensitivity.png",
    params:
        **step("draw_sensitivity", tables=folder("table_files")),
    log:
        "results/logs/draw_sensitivity.log",
    resources:
        mem_mb=1000,
        runtime=10,
    threads: 1
    conda:
        CONDA_ENV
    shell:
        STEP
