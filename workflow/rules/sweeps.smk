# Sensitivity sweeps (experiments/sweeps.yaml): one job per sweep trains every value x seed (its points in
# several processes when few jobs train: get_train_threads), reads the experiment's own value back, chooses
# the best value on validation data and scores only that point on the test set, as the experiment
# `<sweep>_best`.
rule train_sweep:
    input:
        unpack(get_sweep_experiment_files),
        code=CODE["train_sweep"],
        sweep=get_sweep,
        split="results/data/split.parquet",
        scaler="results/data/scaler.json",
    output:
        points="results/sweeps/{sweep}/points.parquet",
        best="results/sweeps/{sweep}/best.json",
        spec="results/sweeps/{sweep}/spec.json",
        **run_files("results/runs/{sweep}_best"),
    params:
        threads=config["torch_threads"],
        device=config["device"],
        store=STORE,
        experiment_files=get_sweep_experiment_option,
    log:
        "results/logs/train_sweep/{sweep}.log",
    wildcard_constraints:
        sweep="|".join(SWEEP_BY_ID) or "no-sweeps",
    resources:
        mem_mb=lambda wildcards, threads: 1500 + 500 * threads,  # one process per core
        runtime=60,
        gpu=GPUS,
    threads: get_train_threads
    conda:
        CONDA_ENV
    shell:
        "python -m lessonbench train_sweep --sweep {input.sweep:q} --store={params.store:q} --threads {params.threads}"
        " --device {params.device} {params.experiment_files}"
        " --split {input.split:q} --scaler {input.scaler:q} --points {output.points:q} --best {output.best:q}"
        f" --spec {{output.spec:q}} {run_options()} --processes {{threads}} > {{log:q}} 2>&1"


rule draw_sensitivity:
    input:
        code=CODE["draw_sensitivity"],
        tables=rules.collect_tables.output,
    output:
        SENSITIVITY_FIGURE or "results/figures/sensitivity.png",
    params:
        tables=get_tables_dir,
    log:
        "results/logs/draw_sensitivity.log",
    resources:
        mem_mb=1000,
        runtime=10,
    threads: 1
    conda:
        CONDA_ENV
    shell:
        "python -m lessonbench draw_sensitivity --tables {params.tables:q} --figure {output:q} > {log:q} 2>&1"
