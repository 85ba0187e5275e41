rule render_report:
    input:
        code=CODE["report"],
        tables=rules.collect_tables.output,
        **FIGURES,
        sections=SECTION_FIGURES,
        scaler="results/data/scaler.json",
        verification=get_verification,
    output:
        html="results/report/report.html",
        pdf="results/report/report.pdf",
    params:
        sections=SECTIONS,
        config_hash=config_hash(DATA, SPECS),
        threads=config["torch_threads"],
    log:
        "results/logs/render_report.log",
    threads: 1
    shell:
        "python -m lessonbench report --tables results/tables --scaler {input.scaler:q}"
        " --leaderboard {input.leaderboard:q} --small-multiples {input.small_multiples:q}"
        " --confusion {input.confusion:q} --errors {input.errors:q}"
        " --showcase {input.showcase:q} --sections {params.sections:q}"
        " --section-figures {input.sections:q} --config-hash {params.config_hash}"
        " --threads {params.threads} --html {output.html:q} --pdf {output.pdf:q}"
        " --verification {input.verification:q} > {log:q} 2>&1"
