# The lesson's illustrations: each picture is its own job with its settings as an input file
# (common.smk), so changing one setting redraws only that picture and the report.
rule draw_optimizer_paths:
    input:
        code=CODE["draw_optimizer_paths"],
        settings=ILLUSTRATION_FILES["optimizer_paths"],
    output:
        table="results/illustrations/optimizer_paths.parquet",
        csv="results/illustrations/optimizer_paths.csv",
        figure="results/figures/optimizer_paths.png",
    log:
        "results/logs/draw_optimizer_paths.log",
    resources:
        mem_mb=1500,
        runtime=10,
    threads: 1
    conda:
        CONDA_ENV
    shell:
        "python -m lessonbench draw_optimizer_paths --settings {input.settings:q}"
        " --table {output.table:q} --figure {output.figure:q} > {log:q} 2>&1"


rule draw_activations:
    input:
        code=CODE["draw_activations"],
        settings=ILLUSTRATION_FILES["activations"],
        split="results/data/split.parquet",
        scaler="results/data/scaler.json",
    output:
        table="results/illustrations/activations.parquet",
        csv="results/illustrations/activations.csv",
        deep="results/figures/activations_deep.png",
        lesson="results/figures/activations_lesson.png",
    log:
        "results/logs/draw_activations.log",
    resources:
        mem_mb=1500,
        runtime=10,
    threads: 1
    conda:
        CONDA_ENV
    shell:
        "python -m lessonbench draw_activations --settings {input.settings:q} --split {input.split:q}"
        " --scaler {input.scaler:q} --table {output.table:q} --deep-figure {output.deep:q}"
        " --lesson-figure {output.lesson:q} > {log:q} 2>&1"


rule measure_symmetry:
    input:
        code=CODE["measure_symmetry"],
        weights=[f"results/runs/{SYMMETRY[role]}/weights.pt" for role in ("constant", "reference")],
    output:
        table="results/illustrations/symmetry.parquet",
        csv="results/illustrations/symmetry.csv",
    params:
        tolerance=SYMMETRY["tolerance"],
        experiments=[SYMMETRY["constant"], SYMMETRY["reference"]],
    log:
        "results/logs/measure_symmetry.log",
    resources:
        mem_mb=1500,
        runtime=10,
    threads: 1
    conda:
        CONDA_ENV
    shell:
        "python -m lessonbench measure_symmetry --tolerance {params.tolerance} --experiments {params.experiments}"
        " --weights {input.weights:q} --table {output.table:q} > {log:q} 2>&1"


rule summarise_models:
    input:
        code=CODE["summarise_models"],
        models=ILLUSTRATION_FILES["models"],
    output:
        "results/illustrations/model_summaries.json",
    log:
        "results/logs/summarise_models.log",
    resources:
        mem_mb=1500,
        runtime=10,
    threads: 1
    conda:
        CONDA_ENV
    shell:
        "python -m lessonbench summarise_models --models {input.models:q} --output {output:q} > {log:q} 2>&1"
