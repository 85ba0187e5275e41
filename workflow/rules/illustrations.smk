# The lesson's illustrations: each picture is its own job with its settings as params,
# so changing one setting redraws only that picture and the report.
SYMMETRY = ILLUSTRATIONS["symmetry"]


def get_ordered_settings(block: str, ordered: str) -> str:
    """A settings block in canonical JSON, with the entries of `ordered` kept in file order as [name, value] pairs."""
    settings = dict(ILLUSTRATIONS[block])
    settings[ordered] = [[name, value] for name, value in settings[ordered].items()]
    return canonical_json(settings)


rule draw_optimizer_paths:
    input:
        CODE["illustrations"],
    output:
        table="results/illustrations/optimizer_paths.parquet",
        csv="results/illustrations/optimizer_paths.csv",
        figure="results/figures/optimizer_paths.png",
    params:
        settings=get_ordered_settings("optimizer_paths", "optimizers"),
    log:
        "results/logs/draw_optimizer_paths.log",
    resources:
        mem_mb=1500,
        runtime=10,
    threads: 1
    shell:
        "python -m lessonbench optimizer-paths --settings {params.settings:q}"
        " --table {output.table:q} --figure {output.figure:q} > {log:q} 2>&1"


rule draw_activations:
    input:
        code=CODE["illustrations"],
        split="results/data/split.parquet",
        scaler="results/data/scaler.json",
    output:
        table="results/illustrations/activations.parquet",
        csv="results/illustrations/activations.csv",
        deep="results/figures/activations_deep.png",
        lesson="results/figures/activations_lesson.png",
    params:
        settings=get_ordered_settings("activations", "cases"),
    log:
        "results/logs/draw_activations.log",
    resources:
        mem_mb=1500,
        runtime=10,
    threads: 1
    shell:
        "python -m lessonbench activations --settings {params.settings:q} --split {input.split:q}"
        " --scaler {input.scaler:q} --table {output.table:q} --deep-figure {output.deep:q}"
        " --lesson-figure {output.lesson:q} > {log:q} 2>&1"


rule measure_symmetry:
    input:
        code=CODE["illustrations"],
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
    shell:
        "python -m lessonbench symmetry --tolerance {params.tolerance} --experiments {params.experiments}"
        " --weights {input.weights:q} --table {output.table:q} > {log:q} 2>&1"


rule summarise_models:
    input:
        CODE["illustrations"],
    output:
        "results/illustrations/model_summaries.json",
    params:
        models=canonical_json({exp: spec["model"] for exp, spec in SPECS.items()}),
    log:
        "results/logs/summarise_models.log",
    resources:
        mem_mb=1500,
        runtime=10,
    threads: 1
    shell:
        "python -m lessonbench model-summaries --models {params.models:q} --output {output:q} > {log:q} 2>&1"
