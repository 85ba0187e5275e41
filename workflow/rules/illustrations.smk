# The lesson's illustrations: each picture is its own job with its settings as an input file, so changing one
# setting redraws only that picture and the report.
rule draw_optimizer_paths:
    input:
        code=CODE["draw_optimizer_paths"],
        settings=settings("illustrations/optimizer_paths"),
    output:
        table="results/illustrations/optimizer_paths.parquet",
        csv="results/illustrations/optimizer_paths.csv",
        figure="results/figures/optimizer_paths.png",
    params:
        **step("draw_optimizer_paths"),
    log:
        "results/logs/draw_optimizer_paths.log",
    resources:
        mem_mb=1500,
        runtime=10,
    threads: 1
    conda:
        CONDA_ENV
    shell:
        STEP


rule draw_activations:
    input:
        code=CODE["draw_activations"],
        settings=settings("illustrations/activations"),
        split="results/data/split.parquet",
        scaler="results/data/scaler.json",
    output:
        table="results/illustrations/activations.parquet",
        csv="results/illustrations/activations.csv",
        deep_figure="results/figures/activations_deep.png",
        lesson_figure="results/figures/activations_lesson.png",
    params:
        **step("draw_activations"),
    log:
        "results/logs/draw_activations.log",
    resources:
        mem_mb=1500,
        runtime=10,
    threads: 1
    conda:
        CONDA_ENV
    shell:
        STEP


rule measure_symmetry:
    input:
        code=CODE["measure_symmetry"],
        weights=PLAN.symmetry_weights,
    output:
        table="results/illustrations/symmetry.parquet",
        csv="results/illustrations/symmetry.csv",
    params:
        **step("measure_symmetry", tolerance=PLAN.illustrations["symmetry"]["tolerance"],
               experiments=[PLAN.illustrations["symmetry"][role] for role in ("constant", "reference")]),
    log:
        "results/logs/measure_symmetry.log",
    resources:
        mem_mb=1500,
        runtime=10,
    threads: 1
    conda:
        CONDA_ENV
    shell:
        STEP


rule summarise_models:
    input:
        code=CODE["summarise_models"],
        models=settings("illustrations/models"),
        dataset="results/data/dataset.json",
    output:
        output="results/illustrations/model_summaries.json",
    params:
        **step("summarise_models"),
    log:
        "results/logs/summarise_models.log",
    resources:
        mem_mb=1500,
        runtime=10,
    threads: 1
    conda:
        CONDA_ENV
    shell:
        STEP
