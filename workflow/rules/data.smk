rule prepare_data:
    input:
        code=CODE["prepare_data"],
        settings=DATA_SETTINGS,
    output:
        split="results/data/split.parquet",
        scaler="results/data/scaler.json",
        train_val="results/data/train_val.parquet",
    log:
        "results/logs/prepare_data.log",
    resources:
        mem_mb=1000,
        runtime=10,
    threads: 1
    conda:
        CONDA_ENV
    shell:
        "python -m lessonbench prepare_data --data {input.settings:q}"
        " --split {output.split:q} --scaler {output.scaler:q} --train-val {output.train_val:q} > {log:q} 2>&1"
