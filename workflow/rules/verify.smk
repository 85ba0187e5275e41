# `snakemake verify`: retrain config["verify_experiment"] in scratch space and compare its
# deterministic files byte for byte with the stored ones; the report cites the result.
rule verify_determinism:
    input:
        code=CODE["verify"],
        spec=get_training_spec,
        split="results/data/split.parquet",
        scaler="results/data/scaler.json",
        history="results/runs/{experiment}/history.parquet",
        runs="results/runs/{experiment}/runs.parquet",
        test_probs="results/runs/{experiment}/test_probs.parquet",
        weights="results/runs/{experiment}/weights.pt",
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
        "python -m lessonbench verify --experiment {wildcards.experiment} --spec {input.spec:q}"
        " --threads {params.threads} --device {params.device} --split {input.split:q} --scaler {input.scaler:q}"
        " --history {input.history:q} --runs {input.runs:q} --test-probs {input.test_probs:q}"
        " --weights {input.weights:q} --output {output:q} > {log:q} 2>&1"


rule verify:
    input:
        f"results/verify/{VERIFY}.json",
    log:
        "results/logs/verify.log",
    localrule: True
    conda:
        CONDA_ENV
    shell:
        "python -m lessonbench check-verification {input:q} 2>&1 | tee {log:q}"
