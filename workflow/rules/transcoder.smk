# Spectral Transcoder (Tailleur et al., DCASE 2023): third-octave -> Mel for PANN / YAMNet.
# Wiring only: every rule calls one stage of audiopipe.recipes.transcoder through the CLI.
# Uses AUDIOPIPE, GPU_RUN and json_arg() from common.smk.

from audiopipe.recipes._plans import parse_setting_id as _tc_parse, plan_settings as _tc_plan_settings

TC = config["transcoder"]
TC_SETTINGS = _tc_plan_settings(TC)
TC_PLANS = sorted({p for p, _, _ in TC_SETTINGS})
TC_MANIFESTS = ["tau_urban_train", "tau_urban_evaluate", "urbansound8k", "ami_train", "ami_test"]
TC_DEMO = [f"data/demo/{c}/demo_manifest.jsonl" for c in ("tau_urban", "urbansound8k", "ami")]


def _tc_demo_inputs(roots):
    """Demo manifests of the corpora whose configured root is a demo corpus."""
    return [f"{r}/demo_manifest.jsonl" for r in roots if str(r).startswith("data/demo/")]


rule transcoder_demo:
    output:
        TC_DEMO,
    params:
        fixtures=TC["fixtures"],
    log:
        "logs/transcoder/demo.log",
    benchmark:
        "benchmarks/out/transcoder/demo.tsv"
    shell:
        "{AUDIOPIPE} transcoder demo --fixtures {params.fixtures} --output-dir data/demo > {log} 2>&1"


rule transcoder_prepare:
    input:
        _tc_demo_inputs(TC["corpora"].values()),
    output:
        expand("data/interim/transcoder/manifests/{m}.jsonl", m=TC_MANIFESTS),
    params:
        c=TC["corpora"],
    log:
        "logs/transcoder/prepare.log",
    benchmark:
        "benchmarks/out/transcoder/prepare.tsv"
    shell:
        "{AUDIOPIPE} transcoder prepare --tau-root {params.c[tau_urban]} --us8k-root {params.c[urbansound8k]}"
        " --ami-root {params.c[ami]} --output-dir data/interim/transcoder/manifests > {log} 2>&1"


rule transcoder_features:
    input:
        expand("data/interim/transcoder/manifests/{m}.jsonl", m=TC_MANIFESTS),
    output:
        "data/features/transcoder/clips.h5",
    params:
        classes=" ".join(TC["classes"]),
        clip_s=TC["clip_s"],
    log:
        "logs/transcoder/features.log",
    benchmark:
        "benchmarks/out/transcoder/features.tsv"
    shell:
        "{AUDIOPIPE} transcoder features --manifests {input} --output {output} --classes {params.classes}"
        " --clip-s {params.clip_s} > {log} 2>&1"


rule transcoder_teacher:
    input:
        "data/features/transcoder/clips.h5",
    output:
        pt="results/transcoder/teachers/{classifier}/teacher.pt",
        info="results/transcoder/teachers/{classifier}/teacher.json",
    wildcard_constraints:
        classifier="PANN|YamNet",
    params:
        p=lambda w: json_arg(TC["classifiers"][w.classifier]),
    resources:
        gpu=1,
    log:
        "logs/transcoder/teacher_{classifier}.log",
    benchmark:
        "benchmarks/out/transcoder/teacher_{classifier}.tsv"
    shell:
        "{GPU_RUN} {resources.gpu} -- {AUDIOPIPE} transcoder teacher --features {input} --classifier {wildcards.classifier}"
        " --output-dir results/transcoder/teachers/{wildcards.classifier} --params {params.p} > {log} 2>&1"


def _tc_teacher(w):
    s = _tc_parse(w.sid, TC["plans"][w.plan]["default"])
    return f"results/transcoder/teachers/{s['classifier']}/teacher.pt"


rule transcoder_setting:
    input:
        features="data/features/transcoder/clips.h5",
        teacher=_tc_teacher,
    output:
        "results/transcoder/{plan}/{sid}/metrics.json",
    wildcard_constraints:
        plan="[^/]+",
        sid="[^/]+",
    params:
        p=json_arg(TC),
    resources:
        gpu=1,
    log:
        "logs/transcoder/{plan}/{sid}.log",
    benchmark:
        "benchmarks/out/transcoder/{plan}/{sid}.tsv"
    shell:
        "{GPU_RUN} {resources.gpu} -- {AUDIOPIPE} transcoder setting --features {input.features}"
        " --teacher-dir $(dirname {input.teacher}) --plan {wildcards.plan} --setting-id '{wildcards.sid}'"
        " --params {params.p} --output-dir $(dirname {output}) > {log} 2>&1"


rule transcoder_summary:
    input:
        lambda w: [f"results/transcoder/{p}/{sid}/metrics.json" for p, sid, _ in TC_SETTINGS if p == w.plan],
    output:
        "results/transcoder/{plan}/table.csv",
        report("results/transcoder/{plan}/table.md", category="transcoder"),
        report("results/transcoder/{plan}/plot.png", category="transcoder"),
    wildcard_constraints:
        plan="[^/]+",
    params:
        p=json_arg(TC),
    log:
        "logs/transcoder/{plan}/summary.log",
    benchmark:
        "benchmarks/out/transcoder/{plan}/summary.tsv"
    shell:
        "{AUDIOPIPE} transcoder summarise --results-dir results/transcoder --plan {wildcards.plan}"
        " --params {params.p} > {log} 2>&1"


RECIPE_TARGETS["transcoder"] = lambda: rules.transcoder_all.input


rule transcoder_all:
    input:
        expand("results/transcoder/{plan}/table.md", plan=TC_PLANS),
