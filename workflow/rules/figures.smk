rule draw_figures:
    input:
        code=CODE["draw_figures"],
        tables=rules.collect_tables.output,
        split="results/data/split.parquet",
    output:
        **{name: path for name, path in FIGURES.items() if name not in ("leaderboard", "confusion")},
        leaderboard=report(FIGURES["leaderboard"], caption="../report/leaderboard.rst", category="Figures"),
        confusion=report(FIGURES["confusion"], caption="../report/confusion.rst", category="Figures"),
        sections=SECTION_FIGURES,
    params:
        sections=SECTIONS,
        tables=get_tables_dir,
    log:
        "results/logs/draw_figures.log",
    resources:
        mem_mb=2000,
        runtime=15,
    threads: 1
    conda:
        CONDA_ENV
    shell:
        "python -m lessonbench draw_figures --tables {params.tables:q} --split {input.split:q}"
        " --leaderboard {output.leaderboard:q} --small-multiples {output.small_multiples:q}"
        " --confusion {output.confusion:q} --errors {output.errors:q}"
        " --sections {params.sections:q} --section-figures {output.sections:q} > {log:q} 2>&1"
