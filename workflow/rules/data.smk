rule prepare_data:
    input:
        CODE["data"],
    output:
        split="results/data/split.parquet",
        scaler="results/data/scaler.json",
        train_val="results/data/train_val.parquet",
    params:
        data=canonical_json(DATA),
    log:
        "results/logs/prepare_data.log",
    resources:
        mem_mb=1000,
        runtime=10,
    threads: 1
    shell:
        "python -m lessonbench prepare-data --data {params.data:q}"
        " --split {output.split:q} --scaler {output.scaler:q} --train-val {output.train_val:q} > {log:q} 2>&1"
