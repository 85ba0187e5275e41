rule draw_figures:
    input:
        code=CODE["draw_figures"],
        table_files=rules.collect_tables.output.tables,
        split="results/data/split.parquet",
        dataset="results/data/dataset.json",
    output:
        **{name: path for name, path in FIGURES.items() if name not in ("leaderboard", "confusion")},
        leaderboard=report(FIGURES["leaderboard"], caption="../report/leaderboard.rst", category="Figures"),
        confusion=report(FIGURES["confusion"], caption="../report/confusion.rst", category="Figures"),
        section_figures=PLAN.section_figures,
        mistakes="results/tables/misclassified.csv",
    params:
        **step("draw_figures", sections=PLAN.sections, tables=folder("table_files")),
    log:
        "results/logs/draw_figures.log",
    resources:
        mem_mb=2000,
        runtime=15,
    threads: 1
    conda:
        CONDA_ENV
    shell:
        STEP
