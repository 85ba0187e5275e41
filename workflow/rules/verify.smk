# `snakemake verify`: retrain config["verify_experiment"] in scratch space and compare its
# deterministic files byte for byte with the stored ones; the report cites the result.
rule verify_determinism:
    input:
        code=CODE["verify_determinism"],
        spec=get_training_spec,
        split="results/data/split.parquet",
        scaler="results/data/scaler.json",
        **run_files("results/runs/{experiment}", DETERMINISTIC_RUN_FILES),
    output:
        "results/verify/{experiment}.json",
    params:
        threads=config["torch_threads"],
        device=config["device"],
    log:
        "results/logs/verify_determinism/{experiment}.log",
    resources:
        mem_mb=2000,
        runtime=60,
        gpu=GPUS,
    threads: 1
    conda:
        CONDA_ENV
    shell:
        "python -m lessonbench verify_determinism --experiment {wildcards.experiment} --spec {input.spec:q}"
        " --threads {params.threads} --device {params.device} --split {input.split:q} --scaler {input.scaler:q}"
        f" {run_options('input', DETERMINISTIC_RUN_FILES)} --output {{output:q}} > {{log:q}} 2>&1"


rule verify:
    input:
        f"results/verify/{VERIFY}.json",
    log:
        "results/logs/verify.log",
    localrule: True
    conda:
        CONDA_ENV
    shell:
        "python -m lessonbench verify {input:q} 2>&1 | tee {log:q}"
