# Learnable STRF front end (Riad et al., JASA 2021): speech activity detection and urban sound
# classification. Wiring only; demo corpora come from rule transcoder_demo (transcoder.smk).
# Uses AUDIOPIPE, GPU_RUN and json_arg() from common.smk.

from audiopipe.recipes._plans import plan_settings as _st_plan_settings

ST = config["strf"]
ST_SETTINGS = _st_plan_settings(ST)
ST_PLANS = sorted({p for p, _, _ in ST_SETTINGS})
ST_SAD = ["ami_train", "ami_test"]
ST_URBAN = ["tau_urban_train", "tau_urban_evaluate", "urbansound8k", "ami_train", "ami_test"]


rule strf_prepare:
    input:
        [f"{r}/demo_manifest.jsonl" for r in ST["corpora"].values() if str(r).startswith("data/demo/")],
    output:
        expand("data/interim/strf/manifests/{m}.jsonl", m=sorted(set(ST_SAD + ST_URBAN))),
    params:
        c=ST["corpora"],
    log:
        "logs/strf/prepare.log",
    benchmark:
        "benchmarks/out/strf/prepare.tsv"
    shell:
        "{AUDIOPIPE} strf prepare --ami-root {params.c[ami]} --tau-root {params.c[tau_urban]}"
        " --us8k-root {params.c[urbansound8k]} --output-dir data/interim/strf/manifests > {log} 2>&1"


rule strf_features:
    input:
        sad=expand("data/interim/strf/manifests/{m}.jsonl", m=ST_SAD),
        urban=expand("data/interim/strf/manifests/{m}.jsonl", m=ST_URBAN),
    output:
        sad="data/features/strf/sad.h5",
        clips="data/features/strf/clips.h5",
    params:
        classes=" ".join(ST["classes"]),
    log:
        "logs/strf/features.log",
    benchmark:
        "benchmarks/out/strf/features.tsv"
    shell:
        "{AUDIOPIPE} strf features --sad-manifests {input.sad} --urban-manifests {input.urban}"
        " --sad-output {output.sad} --urban-output {output.clips} --classes {params.classes} > {log} 2>&1"


rule strf_setting:
    input:
        sad="data/features/strf/sad.h5",
        clips="data/features/strf/clips.h5",
    output:
        "results/strf/{plan}/{sid}/metrics.json",
    wildcard_constraints:
        plan="[^/]+",
        sid="[^/]+",
    params:
        p=json_arg(ST),
    resources:
        gpu=1,
    log:
        "logs/strf/{plan}/{sid}.log",
    benchmark:
        "benchmarks/out/strf/{plan}/{sid}.tsv"
    shell:
        "{GPU_RUN} {resources.gpu} -- {AUDIOPIPE} strf setting --sad {input.sad} --clips {input.clips} --plan {wildcards.plan}"
        " --setting-id '{wildcards.sid}' --params {params.p} --output-dir $(dirname {output}) > {log} 2>&1"


rule strf_summary:
    input:
        lambda w: [f"results/strf/{p}/{sid}/metrics.json" for p, sid, _ in ST_SETTINGS if p == w.plan],
    output:
        "results/strf/{plan}/table.csv",
        report("results/strf/{plan}/table.md", category="strf"),
        report("results/strf/{plan}/plot.png", category="strf"),
    wildcard_constraints:
        plan="[^/]+",
    params:
        p=json_arg(ST),
    log:
        "logs/strf/{plan}/summary.log",
    benchmark:
        "benchmarks/out/strf/{plan}/summary.tsv"
    shell:
        "{AUDIOPIPE} strf summarise --results-dir results/strf --plan {wildcards.plan} --params {params.p} > {log} 2>&1"


RECIPE_TARGETS["strf"] = lambda: rules.strf_all.input


rule strf_all:
    input:
        expand("results/strf/{plan}/table.md", plan=ST_PLANS),
