# The lesson's illustrations, where it has them (illustrations.smk is included then).
ILLUSTRATED = (
    {
        "optimizer_paths": rules.draw_optimizer_paths.output.table,
        "optimizer_paths_figure": rules.draw_optimizer_paths.output.figure,
        "activations": rules.draw_activations.output.table,
        "activations_settings": settings("illustrations/activations"),
        "activations_deep": rules.draw_activations.output.deep_figure,
        "activations_lesson": rules.draw_activations.output.lesson_figure,
        "symmetry": rules.measure_symmetry.output.table,
        "model_summaries": rules.summarise_models.output.output,
    }
    if PLAN.illustrations
    else {}
)


rule render_report:
    input:
        code=CODE["render_report"],
        template_files=[f"{TEMPLATES}/report.html.j2", f"{TEMPLATES}/report.css"],
        section_titles=settings("report/section_titles"),
        words=settings("report/words"),
        dataset="results/data/dataset.json",
        table_files=rules.collect_tables.output.tables,
        labelled_tables=rules.label_tables.output,
        claim_tables=rules.check_claims.output.claim_tables,
        claim_figures=PLAN.claim_figures,
        sensitivity_figure=PLAN.sensitivity_figure,
        **FIGURES,
        section_figures=PLAN.section_figures,
        verification=lambda wildcards: planning.verification(PLAN),
        **ILLUSTRATED,
        search_tables=rules.summarise_search.output.tables if SEARCH else [],
        values_figure=rules.summarise_search.output.values_figure if SEARCH else [],
        samplers_figure=rules.summarise_search.output.samplers_figure if SEARCH else [],
    output:
        html="results/report/report.html",
        pdf=report("results/report/report.pdf", caption="../report/report_pdf.rst", category="Report"),
    params:
        **step("render_report", sections=PLAN.sections, tables=folder("table_files"), templates=folder("template_files"),
               config_hash=config_hash(PLAN.data, PLAN.specs), threads=config["torch_threads"],
               # read and appended to, never an output: Snakemake's deletion before a rerun cannot remove it
               ledger=config.get("ledger") or ""),
    log:
        "results/logs/render_report.log",
    resources:
        mem_mb=2000,
        runtime=15,
    threads: 1
    conda:
        CONDA_ENV
    shell:
        STEP
