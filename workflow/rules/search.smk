# The lesson's hyperparameter search (experiments/search.yaml), on training and validation data only.
# One job per search (strategy x search seed); the first random search's choice becomes `tuned`, trained by
# train_experiment from the spec that search writes. Several workers can share the lesson's (random) search
# through a database (search_storage): on a cluster they run as separate jobs at once; the `search` job then
# reads the finished study.
if SEARCH:

    rule search_worker:
        input:
            code=CODE["search_worker"],
            settings=settings("search/settings"),
            base=settings("search/base"),
            train_val="results/data/train_val.parquet",
            dataset="results/data/dataset.json",
            scaler="results/data/scaler.json",
        output:
            output="results/search/random-{seed}/worker-{worker}.json",
        params:
            **step("search_worker", search_seed=lambda wildcards: int(wildcards.seed), worker=lambda wildcards: int(wildcards.worker),
                   workers=PLAN.search_workers, threads=config["torch_threads"], device=config["device"],
                   storage=config.get("search_storage") or "",
                   # a code edit starts a new study (no stale trials); a killed run resumes the same one
                   code_version=planning.files_hash(CODE["search_worker"])),
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
            STEP

    rule search:
        input:
            code=CODE["search"],
            settings=settings("search/settings"),
            base=settings("search/base"),
            # the split without its test rows: the search cannot read what it is not given
            train_val="results/data/train_val.parquet",
            dataset="results/data/dataset.json",
            scaler="results/data/scaler.json",
            workers=lambda wildcards: PLAN.worker_outputs(wildcards.strategy, wildcards.seed),
        output:
            trials="results/search/{strategy}-{seed}/trials.parquet",
            trials_csv="results/search/{strategy}-{seed}/trials.csv",
            best="results/search/{strategy}-{seed}/best.json",
            spec="results/search/{strategy}-{seed}/spec.json",
            timing="results/search/{strategy}-{seed}/timing.json",
        params:
            **step("search", strategy=lambda wildcards: wildcards.strategy, search_seed=lambda wildcards: int(wildcards.seed),
                   threads=config["torch_threads"], device=config["device"],
                   # the study database is not an output, so a killed search keeps its finished rounds
                   database=lambda wildcards: f"results/search/{wildcards.strategy}-{wildcards.seed}.db",
                   storage=config.get("search_storage") or "",
                   code_version=planning.files_hash(CODE["search"])),
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
            STEP

    # cheap: on the head node (a local rule only where the search is on, so no warning names a missing rule)
    localrules:
        summarise_search,

    rule summarise_search:
        input:
            code=CODE["summarise_search"],
            settings=settings("search/settings"),
            trials=expand("results/search/{search}/trials.parquet", search=PLAN.searches),
            best=expand("results/search/{search}/best.json", search=PLAN.searches),
            timing=expand("results/search/{search}/timing.json", search=PLAN.searches),
        output:
            tables=tables(planning.SEARCH_TABLES),
            values_figure=report("results/figures/search_values.png", caption="../report/search.rst",
                                 category="Search"),
            samplers_figure=report("results/figures/search_samplers.png", caption="../report/search.rst",
                                   category="Search"),
        params:
            **step("summarise_search", outdir=folder("tables")),
        log:
            "results/logs/summarise_search.log",
        resources:
            mem_mb=1500,
            runtime=10,
        threads: 1
        conda:
            CONDA_ENV
        shell:
            STEP
