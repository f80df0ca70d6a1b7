# SAR-SSL (audiopipe.recipes.sar_ssl; Yang & Li 2023). Data: simulated two-microphone shards
# (WSJ0 speech), measured-RIR shards (dEchorate, ACE, ...), LOCATA segments; learning: feature
# cache per shard -> MC-Conformer pre-training -> one downstream job per plan setting. Corpus
# manifests come from corpora.smk, plan tables from tables.smk. Wiring only.

from audiopipe.recipes import sar_ssl as SAR

SAR_CFG = config["sar_ssl"]
SAR_DATA = SAR_CFG["data"]
SAR_SPEECH = PIPE.manifest("wsj0")


rule sar_ssl_simulate:
    input:
        speech=SAR_SPEECH,
    output:
        SAR.SIGNALS.format(set="{set}", shard="{shard}"),
    wildcard_constraints:
        set=SAR.set_pattern(SAR_CFG, "simulated"),
    params:
        data=json_arg(SAR.data_params(SAR_DATA)),
        code=code("sar_ssl", "simulate"),
    log:
        "logs/sar_ssl/sim/{set}/shard-{shard}.log",
    benchmark:
        "benchmarks/out/sar_ssl_simulate/{set}/{shard}.tsv"
    threads: 1
    shell:
        "{AUDIOPIPE} sar_ssl simulate --speech_manifest {input.speech} --output {output}"
        " --set_name {wildcards.set} --shard {wildcards.shard} --params {params.data}"
        " --threads {threads} > {log} 2>&1"


rule sar_ssl_simulate_measured:
    input:
        rirs=lambda wc: PIPE.manifest(SAR.measured_sets(SAR_DATA)[wc.set]["corpus"]),
        speech=SAR_SPEECH,
    output:
        SAR.SIGNALS.format(set="{set}", shard="{shard}"),
    wildcard_constraints:
        set=SAR.set_pattern(SAR_CFG, "measured"),
    params:
        data=json_arg(SAR.data_params(SAR_DATA, "measured")),
        code=code("sar_ssl", "simulate-measured"),
    log:
        "logs/sar_ssl/sim/{set}/shard-{shard}.log",
    benchmark:
        "benchmarks/out/sar_ssl_simulate_measured/{set}/{shard}.tsv"
    threads: 1
    shell:
        "{AUDIOPIPE} sar_ssl simulate-measured --rir_manifest {input.rirs} --speech_manifest {input.speech}"
        " --output {output} --set_name {wildcards.set} --shard {wildcards.shard}"
        " --params {params.data} --threads {threads} > {log} 2>&1"


rule sar_ssl_locata_segments:
    input:
        lambda wc: PIPE.manifest("locata"),
    output:
        SAR.SIGNALS.format(set="{set}", shard="{shard}"),
    wildcard_constraints:
        set=SAR.set_pattern(SAR_CFG, "locata"),
    params:
        data=json_arg(SAR.data_params(SAR_DATA, "locata")),
        code=code("sar_ssl", "locata-segments"),
    log:
        "logs/sar_ssl/sim/{set}/shard-{shard}.log",
    benchmark:
        "benchmarks/out/sar_ssl_locata_segments/{set}/{shard}.tsv"
    shell:
        "{AUDIOPIPE} sar_ssl locata-segments --manifest {input} --output {output}"
        " --set_name {wildcards.set} --shard {wildcards.shard} --params {params.data} > {log} 2>&1"


rule sar_ssl_summarize:
    input:
        [f for name, spec in SAR.data_sets(SAR_DATA).items() for f in SAR.shard_files(SAR.SIGNALS, name, spec["shards"])],
    output:
        "results/sar_ssl/data/summary.json",
    params:
        shards=lambda wc, input: paths_arg(input),
        code=code("sar_ssl", "summarize"),
    log:
        "logs/sar_ssl/data_summary.log",
    benchmark:
        "benchmarks/out/sar_ssl_summarize.tsv"
    shell:
        "{AUDIOPIPE} sar_ssl summarize --shards {params.shards} --output {output} > {log} 2>&1"


rule sar_ssl_features:
    input:
        SAR.SIGNALS.format(set="{set}", shard="{shard}"),
    output:
        SAR.FEATURES.format(set="{set}", shard="{shard}"),
    wildcard_constraints:
        set="[^/]+",
    params:
        code=code("sar_ssl", "features"),
    log:
        "logs/sar_ssl/features/{set}/shard-{shard}.log",
    benchmark:
        "benchmarks/out/sar_ssl_features/{set}/{shard}.tsv"
    shell:
        "{AUDIOPIPE} sar_ssl features --shard {input} --output {output} > {log} 2>&1"


rule sar_ssl_pretrain:
    input:
        train=SAR.shard_files(SAR.FEATURES, SAR_CFG["pretrain"]["sets"]["train"]["set"],
                              SAR_CFG["pretrain"]["sets"]["train"]["shards"]),
        val=SAR.shard_files(SAR.FEATURES, SAR_CFG["pretrain"]["sets"]["val"]["set"],
                            SAR_CFG["pretrain"]["sets"]["val"]["shards"]),
    output:
        model="results/sar_ssl/pretrain/model.pt",
        metrics="results/sar_ssl/pretrain/metrics.json",
    params:
        train=lambda wc, input: paths_arg(input.train),
        val=lambda wc, input: paths_arg(input.val),
        config=json_arg(SAR_CFG["pretrain"]),
        code=code("sar_ssl", "pretrain"),
    threads: 2
    resources:
        **GPU,
    log:
        "logs/sar_ssl/pretrain.log",
    benchmark:
        "benchmarks/out/sar_ssl_pretrain.tsv"
    shell:
        "OMP_NUM_THREADS={threads} {GPU_RUN} --gpu-log {log}.gpu.tsv -- {AUDIOPIPE} sar_ssl pretrain --train {params.train} --val {params.val}"
        " --output_dir $(dirname {output.model}) --config {params.config} > {log} 2>&1"


rule sar_ssl_downstream:
    input:
        unpack(lambda wc: SAR.plan_inputs(PIPE, wc.plan)),
        pretrained="results/sar_ssl/pretrain/model.pt",
    output:
        "results/sar_ssl/{plan}/{setting}/metrics.json",
    params:
        levels=lambda wc: json_arg(PIPE.setting("sar_ssl", wc.plan, wc.setting).values),
        kind=lambda wc: SAR.learn.plan_kind(PIPE.plans["sar_ssl"][wc.plan]),
        data=lambda wc, input: " ".join(f"--{role} {paths_arg(getattr(input, role))}" for role in ("train", "val", "test")
                                        if role in input.keys()),
        # training settings only: editing the set names reruns nothing
        config=json_arg({k: v for k, v in SAR_CFG["downstream"].items() if k != "sets"}),
        code=code("sar_ssl", "downstream"),
    threads: 1
    resources:
        **GPU,
    log:
        "logs/sar_ssl/{plan}/{setting}.log",
    benchmark:
        "benchmarks/out/sar_ssl_downstream/{plan}/{setting}.tsv"
    shell:
        "OMP_NUM_THREADS={threads} {GPU_RUN} --gpu-log {log}.gpu.tsv -- {AUDIOPIPE} sar_ssl downstream --setting '{wildcards.setting}'"
        " --levels {params.levels} --kind {params.kind} {params.data} --pretrained {input.pretrained}"
        " --output {output} --config {params.config} > {log} 2>&1"
