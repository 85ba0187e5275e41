# One job per experiment trains all its seeds (the search's choice too, once the search has written its spec);
# with `seed_chunk: N` in config, each experiment's seeds are trained N at a time as separate jobs (train_chunk:
# for many seeds on a cluster) and combined (combine_chunks) into the same files, byte for byte: seed k's numbers
# do not depend on which seeds share its stack. On this machine, when fewer experiments retrain than there are
# cores, train_experiment gets the spare cores and trains its seeds in that many processes (train_threads).
if not PLAN.seed_chunk:

    rule train_experiment:
        input:
            code=CODE["train_experiment"],
            spec=lambda wildcards: PLAN.numbers_file(wildcards.experiment),
            split="results/data/split.parquet",
            scaler="results/data/scaler.json",
        output:
            **run_files("results/runs/{experiment}"),
        params:
            **step("train_experiment", experiment=lambda wildcards: wildcards.experiment, threads=config["torch_threads"],
                   device=config["device"], store=STORE),
        log:
            "results/logs/train_experiment/{experiment}.log",
        wildcard_constraints:
            experiment="|".join(PLAN.trained),
        resources:
            mem_mb=lambda wildcards, threads: 1500 + 500 * threads,  # one process per core
            runtime=60,
            gpu=GPUS,
        threads: train_threads
        conda:
            CONDA_ENV
        shell:
            TRAINING_STEP

else:

    rule train_chunk:
        input:
            code=CODE["train_chunk"],
            spec=lambda wildcards: PLAN.numbers_file(wildcards.experiment),
            split="results/data/split.parquet",
            scaler="results/data/scaler.json",
        output:
            **run_files("results/runs/{experiment}/chunks/{chunk}"),
        params:
            **step("train_chunk", experiment=lambda wildcards: wildcards.experiment, threads=config["torch_threads"],
                   device=config["device"], store=STORE,
                   seeds=lambda wildcards: PLAN.chunk_seeds(wildcards.experiment)[int(wildcards.chunk)]),
        log:
            "results/logs/train_chunk/{experiment}-{chunk}.log",
        wildcard_constraints:
            experiment="|".join(PLAN.trained),
            chunk="[0-9]+",
        resources:
            mem_mb=2000,
            runtime=60,
            gpu=GPUS,
        threads: 1
        conda:
            CONDA_ENV
        shell:
            STEP

    rule combine_chunks:
        input:
            unpack(lambda wildcards: PLAN.chunk_files(wildcards.experiment)),
            code=CODE["combine_chunks"],
        output:
            **{f"out_{name}": path for name, path in run_files("results/runs/{experiment}").items()},
        params:
            **step("combine_chunks"),
        log:
            "results/logs/combine_chunks/{experiment}.log",
        wildcard_constraints:
            experiment="|".join(PLAN.trained),
        resources:
            mem_mb=1000,
            runtime=10,
        threads: 1
        conda:
            CONDA_ENV
        shell:
            STEP
