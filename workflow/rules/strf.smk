# Learnable STRF front end (audiopipe.recipes.strf; Riad et al., JASA 2021): speech activity
# detection and urban sound classification. Corpus manifests come from corpora.smk, the plan
# table from tables.smk. Wiring only.

ST = config["strf"]
ST_SAD = PIPE.manifests("ami")
ST_URBAN = [m for c in ("tau_urban", "urbansound8k", "ami") for m in PIPE.manifests(c)]


rule strf_features:
    input:
        sad=ST_SAD,
        urban=ST_URBAN,
    output:
        sad="data/features/strf/sad.h5",
        clips="data/features/strf/clips.h5",
    params:
        sad=paths_arg(ST_SAD),
        urban=paths_arg(ST_URBAN),
        classes=json_arg(ST["classes"]),
        code=code("strf", "features"),
    log:
        "logs/strf/features.log",
    benchmark:
        "benchmarks/out/strf_features.tsv"
    shell:
        "{AUDIOPIPE} strf features --sad_manifests {params.sad} --urban_manifests {params.urban}"
        " --sad_output {output.sad} --urban_output {output.clips} --classes {params.classes} > {log} 2>&1"


rule strf_setting:
    input:
        sad="data/features/strf/sad.h5",
        clips="data/features/strf/clips.h5",
    output:
        "results/strf/{plan}/{setting}/metrics.json",
    params:
        levels=lambda wc: json_arg(PIPE.setting("strf", wc.plan, wc.setting).values),
        p=json_arg({k: ST[k] for k in ("frontend", "sad", "urban", "seed")}),
        code=code("strf", "setting"),
    threads: 1
    resources:
        **GPU,
    log:
        "logs/strf/{plan}/{setting}.log",
    benchmark:
        "benchmarks/out/strf_setting/{plan}/{setting}.tsv"
    shell:
        "OMP_NUM_THREADS={threads} {GPU_RUN} --gpu-log {log}.gpu.tsv -- {AUDIOPIPE} strf setting --sad {input.sad} --clips {input.clips}"
        " --plan {wildcards.plan} --setting '{wildcards.setting}' --levels {params.levels} --params {params.p}"
        " --output_dir $(dirname {output}) > {log} 2>&1"
