# Spectral Transcoder (audiopipe.recipes.transcoder; Tailleur et al., DCASE 2023): third-octave
# -> Mel for PANN / YAMNet. Corpus manifests come from corpora.smk, plan tables from tables.smk.
# Plan `paper`: one transcoder per setting; plan `downstream`: one head per setting (dataset x
# classifier x input). Wiring only.

from audiopipe.corpora.sonyc_ust import COARSE as SONYC_UST_COARSE
from audiopipe.recipes.transcoder import downstream_inputs as transcoder_downstream_inputs

TC = config["transcoder"]
TC_MANIFESTS = [m for c in ("tau_urban", "urbansound8k", "ami") for m in PIPE.manifests(c)]


rule transcoder_features:
    input:
        TC_MANIFESTS,
    output:
        "data/features/transcoder/clips.h5",
    params:
        manifests=paths_arg(TC_MANIFESTS),
        classes=json_arg(TC["classes"]),
        clip_s=TC["clip_s"],
        resampler=TC["features"]["resampler"],
        normalize=TC["features"]["normalize"] or "null",
        code=code("transcoder", "features"),
    log:
        "logs/transcoder/features.log",
    benchmark:
        "benchmarks/out/transcoder_features.tsv"
    shell:
        "{AUDIOPIPE} transcoder features --manifests {params.manifests} --output {output}"
        " --classes {params.classes} --clip_s {params.clip_s} --resampler {params.resampler}"
        " --normalize {params.normalize} > {log} 2>&1"


rule transcoder_features_sonyc_ust:
    input:
        lambda wc: PIPE.manifest("sonyc_ust"),
    output:
        "data/features/transcoder/sonyc_ust_clips.h5",
    params:
        classes=json_arg(SONYC_UST_COARSE),
        clip_s=TC["clip_s"],
        resampler=TC["features"]["resampler"],
        normalize=TC["features"]["normalize"] or "null",
        code=code("transcoder", "features"),
    log:
        "logs/transcoder/features_sonyc_ust.log",
    benchmark:
        "benchmarks/out/transcoder_features_sonyc_ust.tsv"
    shell:
        "{AUDIOPIPE} transcoder features --manifests '[{input}]' --output {output}"
        " --classes {params.classes} --clip_s {params.clip_s} --resampler {params.resampler}"
        " --normalize {params.normalize} > {log} 2>&1"


rule transcoder_teacher:
    input:
        "data/features/transcoder/clips.h5",
    output:
        pt="results/transcoder/teachers/{classifier}/teacher.pt",
        info="results/transcoder/teachers/{classifier}/teacher.json",
    wildcard_constraints:
        classifier="|".join(TC["classifiers"]),
    params:
        p=lambda wc: json_arg(TC["classifiers"][wc.classifier]),
        code=code("transcoder", "teacher"),
    threads: 1
    resources:
        **GPU,
    log:
        "logs/transcoder/teacher_{classifier}.log",
    benchmark:
        "benchmarks/out/transcoder_teacher/{classifier}.tsv"
    shell:
        "OMP_NUM_THREADS={threads} {GPU_RUN} --gpu-log {log}.gpu.tsv -- {AUDIOPIPE} transcoder teacher --features {input}"
        " --classifier {wildcards.classifier} --output_dir $(dirname {output.pt}) --params {params.p} > {log} 2>&1"


rule transcoder_setting:
    input:
        features="data/features/transcoder/clips.h5",
        teacher=lambda wc: "results/transcoder/teachers/{}/teacher.pt".format(
            PIPE.setting("transcoder", wc.plan, wc.setting).values["classifier"]),
    output:
        "results/transcoder/{plan}/{setting}/metrics.json",
    wildcard_constraints:
        plan="(?!downstream/)[^/]+",
    params:
        levels=lambda wc: json_arg(PIPE.setting("transcoder", wc.plan, wc.setting).values),
        p=json_arg({k: TC[k] for k in ("cnn", "training")}),
        code=code("transcoder", "setting"),
    threads: 1
    resources:
        **GPU,
    log:
        "logs/transcoder/{plan}/{setting}.log",
    benchmark:
        "benchmarks/out/transcoder_setting/{plan}/{setting}.tsv"
    shell:
        "OMP_NUM_THREADS={threads} {GPU_RUN} --gpu-log {log}.gpu.tsv -- {AUDIOPIPE} transcoder setting --features {input.features}"
        " --teacher_dir $(dirname {input.teacher}) --plan {wildcards.plan} --setting '{wildcards.setting}'"
        " --levels {params.levels} --params {params.p} --output_dir $(dirname {output}) > {log} 2>&1"


rule transcoder_downstream:
    input:
        unpack(lambda wc: transcoder_downstream_inputs(PIPE, wc.setting)),
    output:
        "results/transcoder/downstream/{setting}/metrics.json",
    params:
        levels=lambda wc: json_arg(PIPE.setting("transcoder", "downstream", wc.setting).values),
        p=json_arg({"head": TC["downstream"]["head"], "cnn": TC["cnn"]}),
        manifest=lambda wc, input: f"--manifest {input.manifest}" if "manifest" in input.keys() else "",
        ckpt=lambda wc, input: f"--transcoder_ckpt $(dirname {input.cnn})/checkpoints/last.ckpt"
        if "cnn" in input.keys() else "",
        code=code("transcoder", "downstream"),
    log:
        "logs/transcoder/downstream/{setting}.log",
    benchmark:
        "benchmarks/out/transcoder_downstream/{setting}.tsv"
    shell:
        "{AUDIOPIPE} transcoder downstream --features {input.features} --teacher_dir $(dirname {input.teacher})"
        " --levels {params.levels} --output_dir $(dirname {output}) --params {params.p}"
        " {params.manifest} {params.ckpt} > {log} 2>&1"
