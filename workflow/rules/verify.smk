# `snakemake verify`: retrain config["verify_experiment"] in scratch space and compare its
# deterministic files byte for byte with the stored ones; the report cites the result.
rule verify_determinism:
    input:
        code=CODE["verify_determinism"],
        spec=lambda wildcards: PLAN.numbers_file(wildcards.experiment),
        split="results/data/split.parquet",
        scaler="results/data/scaler.json",
        **run_files("results/runs/{experiment}", planning.DETERMINISTIC_RUN_FILES),
    output:
        output="results/verify/{experiment}.json",
    params:
        **step("verify_determinism", experiment=lambda wildcards: wildcards.experiment, threads=config["torch_threads"],
               device=config["device"]),
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
        STEP


rule verify:
    input:
        record=f"results/verify/{PLAN.verify}.json",
    params:
        **step("verify"),
    log:
        "results/logs/verify.log",
    localrule: True
    conda:
        CONDA_ENV
    shell:
        "python -m lessonbench {params.step} {params.job:q} 2>&1 | tee {log:q}"
