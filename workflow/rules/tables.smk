# The generic table rule: one table and plot per plan of every recipe, from its selected
# settings' results and the recipe's baselines (audiopipe.pipeline.tables). Wiring only.


rule table:
    input:
        lambda wc: PIPE.table_inputs(wc.recipe, wc.plan),
    output:
        md=report("results/{recipe}/{plan}/table.md", category="{recipe}", subcategory="{plan}"),
        csv="results/{recipe}/{plan}/table.csv",
        json="results/{recipe}/{plan}/table.json",
        png=report("results/{recipe}/{plan}/table.png", category="{recipe}", subcategory="{plan}",
                   caption="../report/table.rst"),
    wildcard_constraints:
        recipe="|".join(PIPE.recipes) or "(?!)",
    params:
        spec=lambda wc: json_arg({k: v for k, v in config[wc.recipe]["plans"][wc.plan].items() if k in ("factors", "default")}),
        settings=lambda wc: json_arg([s.id for s in PIPE.settings(wc.recipe, wc.plan)]),
        baselines=lambda wc: json_arg(PIPE.recipes[wc.recipe].baseline_dirs(config[wc.recipe])),
        code=TABLE_CODE,
    log:
        "logs/{recipe}/{plan}/table.log",
    benchmark:
        "benchmarks/out/table/{recipe}/{plan}.tsv"
    shell:
        "{AUDIOPIPE} table {wildcards.recipe} --plan {wildcards.plan} --plan-spec {params.spec}"
        " --settings {params.settings} --baselines {params.baselines} > {log} 2>&1"
