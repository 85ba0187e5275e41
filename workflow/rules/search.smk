# The lesson's hyperparameter search (experiments/search.yaml), on training and validation data only.
# One job per search (strategy x search seed); the first random search's choice becomes `tuned`, trained by
# train_experiment from the spec that search writes.
if SEARCH:

    rule search_worker:
        input:
            code=CODE["search_worker"],
            settings=SEARCH_SETTINGS_FILE,
            base=SEARCH_BASE_FILE,
            train_val="results/data/train_val.parquet",
            scaler="results/data/scaler.json",
        output:
            "results/search/random-{seed}/worker-{worker}.json",
        params:
            threads=config["torch_threads"],
            device=config["device"],
            storage=config.get("search_storage") or "",
            code_version=files_hash(CODE["search_worker"]),
        log:
            "results/logs/search/random-{seed}-worker-{worker}.log",
        wildcard_constraints:
            seed="[0-9]+",
            worker="[0-9]+",
        resources:
            mem_mb=2000,
            runtime=120,
            gpu=GPUS,
        threads: 1
        conda:
            CONDA_ENV
        shell:
            "python -m lessonbench search_worker --search-seed {wildcards.seed} --worker {wildcards.worker}"
            f" --workers {SEARCH_WORKERS}"
            " --settings {input.settings:q} --base {input.base:q} --storage {params.storage:q}"
            " --code-version {params.code_version} --threads {params.threads} --device {params.device}"
            " --train-val {input.train_val:q} --scaler {input.scaler:q} --output {output:q} > {log:q} 2>&1"

    rule search:
        input:
            code=CODE["search"],
            settings=SEARCH_SETTINGS_FILE,
            base=SEARCH_BASE_FILE,
            # the split without its test rows: the search cannot read what it is not given
            train_val="results/data/train_val.parquet",
            scaler="results/data/scaler.json",
            workers=worker_outputs,
        output:
            trials="results/search/{strategy}-{seed}/trials.parquet",
            trials_csv="results/search/{strategy}-{seed}/trials.csv",
            best="results/search/{strategy}-{seed}/best.json",
            spec="results/search/{strategy}-{seed}/spec.json",
            timing="results/search/{strategy}-{seed}/timing.json",
        params:
            threads=config["torch_threads"],
            device=config["device"],
            # the study database is not an output, so a killed search keeps its finished rounds
            database="results/search/{strategy}-{seed}.db",
            storage=config.get("search_storage") or "",
            # a code edit starts a new study (no stale trials); a killed run resumes the same one
            code_version=files_hash(CODE["search"]),
        log:
            "results/logs/search/{strategy}-{seed}.log",
        wildcard_constraints:
            strategy="random|tpe",
            seed="[0-9]+",
        resources:
            mem_mb=2000,
            runtime=120,
            gpu=GPUS,
        threads: 1
        conda:
            CONDA_ENV
        shell:
            "python -m lessonbench search --strategy {wildcards.strategy} --search-seed {wildcards.seed}"
            " --settings {input.settings:q} --base {input.base:q} --threads {params.threads}"
            " --device {params.device} --code-version {params.code_version} --storage={params.storage:q} --train-val {input.train_val:q}"
            " --scaler {input.scaler:q} --database {params.database:q} --trials {output.trials:q}"
            " --best {output.best:q} --spec {output.spec:q} --timing {output.timing:q} > {log:q} 2>&1"

    rule summarise_search:
        input:
            code=CODE["summarise_search"],
            settings=SEARCH_SETTINGS_FILE,
            trials=expand("results/search/{search}/trials.parquet", search=SEARCHES),
            best=expand("results/search/{search}/best.json", search=SEARCHES),
            timing=expand("results/search/{search}/timing.json", search=SEARCHES),
        output:
            tables=expand("results/tables/{table}.{ext}", table=SEARCH_TABLES, ext=["parquet", "csv"]),
            values=report("results/figures/search_values.png", caption="../report/search.rst", category="Search"),
            samplers=report("results/figures/search_samplers.png", caption="../report/search.rst", category="Search"),
        params:
            outdir=get_output_dir,
        log:
            "results/logs/summarise_search.log",
        resources:
            mem_mb=1500,
            runtime=10,
        threads: 1
        conda:
            CONDA_ENV
        shell:
            "python -m lessonbench summarise_search --settings {input.settings:q} --trials {input.trials:q}"
            " --best {input.best:q} --timing {input.timing:q} --outdir {params.outdir:q}"
            " --values-figure {output.values:q} --samplers-figure {output.samplers:q} > {log:q} 2>&1"
