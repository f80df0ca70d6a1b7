# Spectral Transcoder (Tailleur et al., DCASE 2023): third-octave -> Mel for PANN / YAMNet.
# Wiring only: every rule calls one stage of audiopipe.recipes.transcoder through the CLI.
# Uses AUDIOPIPE, GPU_RUN and json_arg() from common.smk.


from audiopipe.recipes._plans import parse_setting_id as _tc_parse, plan_settings as _tc_plan_settings
from audiopipe.recipes._plans import setting_id as _tc_setting_id

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
        plan="(?!downstream$)[^/]+",
    params:
        p=json_arg(TC),
    log:
        "logs/transcoder/{plan}/summary.log",
    benchmark:
        "benchmarks/out/transcoder/{plan}/summary.tsv"
    shell:
        "{AUDIOPIPE} transcoder summarise --results-dir results/transcoder --plan {wildcards.plan}"
        " --params {params.p} > {log} 2>&1"


# ---- downstream heads (issue 6 item 4): UrbanSound8K fold accuracy, SONYC-UST macro-AUPRC ----
TC_DS = TC["downstream"]
TC_DS_DATASETS = list(TC_DS["datasets"]) + (["sonyc_ust"] if TC_DS["sonyc_ust"] else [])
if not TC_DS["sonyc_ust"]:
    print("audiopipe transcoder: SONYC-UST downstream skipped: transcoder.downstream.sonyc_ust is not set"
          " (no public SONYC-UST audio exists for a demo corpus)", file=sys.stderr)
TC_SONYC_COARSE = ["1_engine", "2_machinery-impact", "3_non-machinery-impact", "4_powered-saw", "5_alert-signal",
                   "6_music", "7_human-voice", "8_dog"]


def _tc_ds_inputs(w):
    out = {"teacher": f"results/transcoder/teachers/{w.classifier}/teacher.pt",
           "features": "data/features/transcoder/sonyc_clips.h5" if w.dataset == "sonyc_ust"
           else "data/features/transcoder/clips.h5"}
    if w.dataset in ("urbansound8k", "sonyc_ust"):
        out["manifest"] = f"data/interim/transcoder/manifests/{w.dataset}.jsonl"
    if w.inp == "cnn":
        sid = _tc_setting_id({"transcoder": "cnn_pinv", "classifier": w.classifier, "target": TC_DS["cnn_target"]},
                             TC["plans"]["paper"]["default"])
        out["setting"] = f"results/transcoder/paper/{sid}/metrics.json"
    return out


rule transcoder_prepare_sonyc:
    output:
        "data/interim/transcoder/manifests/sonyc_ust.jsonl",
    params:
        root=TC_DS["sonyc_ust"] or "",
    log:
        "logs/transcoder/prepare_sonyc.log",
    benchmark:
        "benchmarks/out/transcoder/prepare_sonyc.tsv"
    shell:
        "{AUDIOPIPE} transcoder prepare-sonyc --root {params.root} --output-dir $(dirname {output}) > {log} 2>&1"


rule transcoder_features_sonyc:
    input:
        "data/interim/transcoder/manifests/sonyc_ust.jsonl",
    output:
        "data/features/transcoder/sonyc_clips.h5",
    params:
        classes=" ".join(TC_SONYC_COARSE),
        clip_s=TC["clip_s"],
    log:
        "logs/transcoder/features_sonyc.log",
    benchmark:
        "benchmarks/out/transcoder/features_sonyc.tsv"
    shell:
        "{AUDIOPIPE} transcoder features --manifests {input} --output {output} --classes {params.classes}"
        " --clip-s {params.clip_s} > {log} 2>&1"


rule transcoder_downstream:
    input:
        unpack(_tc_ds_inputs),
    output:
        "results/transcoder/downstream/{dataset}/{classifier}/{inp}/metrics.json",
    wildcard_constraints:
        dataset="urbansound8k|sonyc_ust|demo_clips",
        classifier="PANN|YamNet",
        inp="mel|pinv|cnn",
    params:
        p=json_arg({"head": TC_DS["head"], "cnn": TC["cnn"]}),
        manifest=lambda w, input: f"--manifest {input.manifest}" if "manifest" in input.keys() else "",
        ckpt=lambda w, input: f"--transcoder-ckpt $(dirname {input.setting})/checkpoints/last.ckpt"
        if "setting" in input.keys() else "",
    log:
        "logs/transcoder/downstream/{dataset}_{classifier}_{inp}.log",
    benchmark:
        "benchmarks/out/transcoder/downstream/{dataset}_{classifier}_{inp}.tsv"
    shell:
        "{AUDIOPIPE} transcoder downstream --features {input.features} --dataset {wildcards.dataset}"
        " --input {wildcards.inp} --teacher-dir $(dirname {input.teacher}) --output-dir $(dirname {output})"
        " --params {params.p} {params.manifest} {params.ckpt} > {log} 2>&1"


rule transcoder_downstream_table:
    input:
        expand("results/transcoder/downstream/{dataset}/{classifier}/{inp}/metrics.json",
               dataset=TC_DS_DATASETS, classifier=TC_DS["classifiers"], inp=TC_DS["inputs"]),
    output:
        "results/transcoder/downstream/table.csv",
        report("results/transcoder/downstream/table.md", category="transcoder"),
    log:
        "logs/transcoder/downstream/table.log",
    benchmark:
        "benchmarks/out/transcoder/downstream/table.tsv"
    shell:
        "{AUDIOPIPE} transcoder downstream-table --metrics {input} --output-dir results/transcoder/downstream > {log} 2>&1"


RECIPE_TARGETS["transcoder"] = lambda: rules.transcoder_all.input


rule transcoder_all:
    input:
        expand("results/transcoder/{plan}/table.md", plan=TC_PLANS),
        "results/transcoder/downstream/table.md",
