# One job per experiment trains all its seeds; with `seed_chunk: N` in config, each experiment's
# seeds are trained N at a time as separate jobs (train_chunk) and combined (combine_chunks) into
# the same files, byte for byte: seed k's numbers do not depend on which seeds share its stack.
if not SEED_CHUNK:

    rule train_experiment:
        input:
            code=CODE["train"],
            spec=get_training_spec,
            split="results/data/split.parquet",
            scaler="results/data/scaler.json",
        output:
            history="results/runs/{experiment}/history.parquet",
            runs="results/runs/{experiment}/runs.parquet",
            test_probs="results/runs/{experiment}/test_probs.parquet",
            weights="results/runs/{experiment}/weights.pt",
            timing="results/runs/{experiment}/timing.json",
        params:
            threads=config["torch_threads"],
            device=config["device"],
            store=STORE,
        log:
            "results/logs/train_experiment/{experiment}.log",
        wildcard_constraints:
            experiment="|".join(EXPERIMENTS),
        resources:
            mem_mb=2000,
            runtime=60,
            gpu=GPUS,
        threads: 1
        conda:
            CONDA_ENV
        shell:
            "python -m lessonbench train --experiment {wildcards.experiment} --spec {input.spec:q}"
            " --threads {params.threads} --device {params.device} --store {params.store:q} --split {input.split:q} --scaler {input.scaler:q}"
            " --history {output.history:q} --runs {output.runs:q} --test-probs {output.test_probs:q}"
            " --weights {output.weights:q} --timing {output.timing:q} > {log:q} 2>&1"

else:

    rule train_chunk:
        input:
            code=CODE["train"],
            spec=get_training_spec,
            split="results/data/split.parquet",
            scaler="results/data/scaler.json",
        output:
            history="results/runs/{experiment}/chunks/{chunk}/history.parquet",
            runs="results/runs/{experiment}/chunks/{chunk}/runs.parquet",
            test_probs="results/runs/{experiment}/chunks/{chunk}/test_probs.parquet",
            weights="results/runs/{experiment}/chunks/{chunk}/weights.pt",
            timing="results/runs/{experiment}/chunks/{chunk}/timing.json",
        params:
            seeds=get_chunk_seeds,
            threads=config["torch_threads"],
            device=config["device"],
            store=STORE,
        log:
            "results/logs/train_chunk/{experiment}-{chunk}.log",
        wildcard_constraints:
            experiment="|".join(EXPERIMENTS),
            chunk="[0-9]+",
        resources:
            mem_mb=2000,
            runtime=60,
            gpu=GPUS,
        threads: 1
        conda:
            CONDA_ENV
        shell:
            "python -m lessonbench train --experiment {wildcards.experiment} --spec {input.spec:q}"
            " --seeds {params.seeds} --store {params.store:q} --threads {params.threads} --device {params.device}"
            " --split {input.split:q} --scaler {input.scaler:q} --history {output.history:q} --runs {output.runs:q}"
            " --test-probs {output.test_probs:q} --weights {output.weights:q} --timing {output.timing:q}"
            " > {log:q} 2>&1"

    rule combine_chunks:
        input:
            code=CODE["train"],
            history=chunk_files("history.parquet"),
            runs=chunk_files("runs.parquet"),
            test_probs=chunk_files("test_probs.parquet"),
            weights=chunk_files("weights.pt"),
            timing=chunk_files("timing.json"),
        output:
            history="results/runs/{experiment}/history.parquet",
            runs="results/runs/{experiment}/runs.parquet",
            test_probs="results/runs/{experiment}/test_probs.parquet",
            weights="results/runs/{experiment}/weights.pt",
            timing="results/runs/{experiment}/timing.json",
        log:
            "results/logs/combine_chunks/{experiment}.log",
        wildcard_constraints:
            experiment="|".join(EXPERIMENTS),
        resources:
            mem_mb=1000,
            runtime=10,
        threads: 1
        conda:
            CONDA_ENV
        shell:
            "python -m lessonbench combine-chunks --history {input.history:q} --out-history {output.history:q}"
            " --runs {input.runs:q} --out-runs {output.runs:q} --test-probs {input.test_probs:q}"
            " --out-test-probs {output.test_probs:q} --weights {input.weights:q} --out-weights {output.weights:q}"
            " --timing {input.timing:q} --out-timing {output.timing:q} > {log:q} 2>&1"
