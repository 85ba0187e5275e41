# One job per experiment trains all its seeds (the search's choice too, once the search has written its
# spec); with `seed_chunk: N` in config, each experiment's seeds are trained N at a time as separate jobs
# (train_chunk) and combined (combine_chunks) into the same files, byte for byte: seed k's numbers do not
# depend on which seeds share its stack. The same holds inside one job: when fewer experiments retrain than
# there are cores, train_experiment gets the spare cores and splits its seeds over that many processes
# (get_train_threads in common.smk).
if not SEED_CHUNK:

    rule train_experiment:
        input:
            code=CODE["train_experiment"],
            spec=get_training_spec,
            split="results/data/split.parquet",
            scaler="results/data/scaler.json",
        output:
            **run_files("results/runs/{experiment}"),
        params:
            threads=config["torch_threads"],
            device=config["device"],
            store=STORE,
        log:
            "results/logs/train_experiment/{experiment}.log",
        wildcard_constraints:
            experiment="|".join(TRAINED),
        resources:
            mem_mb=lambda wildcards, threads: 1500 + 500 * threads,  # one process per core
            runtime=60,
            gpu=GPUS,
        threads: get_train_threads
        conda:
            CONDA_ENV
        shell:
            f"{TRAIN_COMMAND} --processes {{threads}} > {{log:q}} 2>&1"

else:

    rule train_chunk:
        input:
            code=CODE["train_experiment"],
            spec=get_training_spec,
            split="results/data/split.parquet",
            scaler="results/data/scaler.json",
        output:
            **run_files("results/runs/{experiment}/chunks/{chunk}"),
        params:
            seeds=get_chunk_seeds,
            threads=config["torch_threads"],
            device=config["device"],
            store=STORE,
        log:
            "results/logs/train_chunk/{experiment}-{chunk}.log",
        wildcard_constraints:
            experiment="|".join(TRAINED),
            chunk="[0-9]+",
        resources:
            mem_mb=2000,
            runtime=60,
            gpu=GPUS,
        threads: 1
        conda:
            CONDA_ENV
        shell:
            f"{TRAIN_COMMAND} --seeds {{params.seeds}} > {{log:q}} 2>&1"

    rule combine_chunks:
        input:
            unpack(get_chunk_files),
            code=CODE["combine_chunks"],
        output:
            **run_files("results/runs/{experiment}"),
        log:
            "results/logs/combine_chunks/{experiment}.log",
        wildcard_constraints:
            experiment="|".join(TRAINED),
        resources:
            mem_mb=1000,
            runtime=10,
        threads: 1
        conda:
            CONDA_ENV
        shell:
            f"python -m lessonbench combine_chunks {run_options('input')} {run_options('output', prefix='out-')}"
            " > {log:q} 2>&1"
