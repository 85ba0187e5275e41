rule train_experiment:
    input:
        code=CODE["train"],
        split="results/data/split.parquet",
        scaler="results/data/scaler.json",
    output:
        history="results/runs/{experiment}/history.parquet",
        runs="results/runs/{experiment}/runs.parquet",
        test_probs="results/runs/{experiment}/test_probs.parquet",
        weights="results/runs/{experiment}/weights.pt",
        timing="results/runs/{experiment}/timing.json",
    params:
        spec=get_training_spec,
        threads=config["torch_threads"],
        device=config["device"],
    log:
        "results/logs/train_experiment/{experiment}.log",
    wildcard_constraints:
        experiment="|".join(EXPERIMENTS),
    threads: 1
    shell:
        "python -m lessonbench train --experiment {wildcards.experiment} --spec {params.spec:q}"
        " --threads {params.threads} --device {params.device} --split {input.split:q} --scaler {input.scaler:q}"
        " --history {output.history:q} --runs {output.runs:q} --test-probs {output.test_probs:q}"
        " --weights {output.weights:q} --timing {output.timing:q} > {log:q} 2>&1"
