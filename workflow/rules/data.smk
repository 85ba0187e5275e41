rule prepare_data:
    input:
        code=CODE["prepare_data"],
        data=settings("data/split"),
        source=PLAN.data_files,
    output:
        split="results/data/split.parquet",
        scaler="results/data/scaler.json",
        train_val="results/data/train_val.parquet",
        dataset="results/data/dataset.json",
    params:
        **step("prepare_data"),
    log:
        "results/logs/prepare_data.log",
    resources:
        mem_mb=1000,
        runtime=10,
    threads: 1
    conda:
        CONDA_ENV
    shell:
        STEP
