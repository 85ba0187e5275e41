rule render_report:
    input:
        code=CODE["render_report"],
        templates=TEMPLATE_FILES,
        section_titles=SECTION_TITLES_FILE,
        tables=rules.collect_tables.output,
        labelled_tables=rules.label_tables.output,
        claims=rules.check_claims.output,
        claim_figures=CLAIM_FIGURES,
        sensitivity=SENSITIVITY_FIGURE,
        **FIGURES,
        sections=SECTION_FIGURES,
        verification=get_verification,
        optimizer_paths=rules.draw_optimizer_paths.output.table,
        optimizer_paths_figure=rules.draw_optimizer_paths.output.figure,
        activations=rules.draw_activations.output.table,
        activations_settings=ILLUSTRATION_FILES["activations"],
        activations_deep=rules.draw_activations.output.deep,
        activations_lesson=rules.draw_activations.output.lesson,
        symmetry=rules.measure_symmetry.output.table,
        model_summaries=rules.summarise_models.output[0],
        search_tables=rules.summarise_search.output.tables if SEARCH else [],
        search_values=rules.summarise_search.output.values if SEARCH else [],
        search_samplers=rules.summarise_search.output.samplers if SEARCH else [],
    output:
        html="results/report/report.html",
        pdf=report("results/report/report.pdf", caption="../report/report_pdf.rst", category="Report"),
    params:
        search=get_search_figures,
        sections=SECTIONS,
        tables=get_tables_dir,
        templates=get_templates_dir,
        config_hash=config_hash(DATA, SPECS),
        threads=config["torch_threads"],
        # read and appended to, never an output: Snakemake's deletion before a rerun cannot remove it
        ledger=config.get("ledger") or "",
    log:
        "results/logs/render_report.log",
    resources:
        mem_mb=2000,
        runtime=15,
    threads: 1
    conda:
        CONDA_ENV
    shell:
        "python -m lessonbench render_report --tables {params.tables:q}"
        " --leaderboard {input.leaderboard:q} --small-multiples {input.small_multiples:q}"
        " --confusion {input.confusion:q} --errors {input.errors:q}"
        " --sections {params.sections:q}"
        " --section-figures {input.sections:q} --claim-figures {input.claim_figures:q}"
        " --sensitivity-figure {input.sensitivity:q}"
        " --config-hash {params.config_hash} --templates {params.templates:q}"
        " --section-titles {input.section_titles:q} --threads {params.threads} --ledger {params.ledger:q} --html {output.html:q} --pdf {output.pdf:q}"
        " --verification {input.verification:q} --search {params.search} --illustrations optimizer_paths={input.optimizer_paths:q}"
        " optimizer_paths_figure={input.optimizer_paths_figure:q} activations={input.activations:q}"
        " activations_settings={input.activations_settings:q}"
        " activations_deep={input.activations_deep:q} activations_lesson={input.activations_lesson:q}"
        " symmetry={input.symmetry:q} model_summaries={input.model_summaries:q} > {log:q} 2>&1"
