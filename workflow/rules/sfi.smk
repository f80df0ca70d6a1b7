# SFI recipe (audiopipe.recipes.sfi; Saito et al., TASLP 2022): SFI Conv-TasNet vs resampling vs
# plain Conv-TasNet on MUSDB18-HQ at several sampling rates. Corpus manifests come from
# corpora.smk, the plan table (SDR vs rate) from tables.smk. Wiring only.

SFI = config["sfi"]
SFI_INT = "data/interim/sfi"
SFI_TRAIN_RATE = SFI["training"]["sampling_rate"]
SFI_CHUNKS = range(SFI["evaluation"]["n_chunks"])


wildcard_constraints:
    sfi_split="train|valid|test",
    sfi_rate=r"\d+",
    sfi_kind="sfi|plain",


rule sfi_resample:
    input:
        lambda wc: PIPE.manifest("musdb18hq", wc.sfi_split),
    output:
        f"{SFI_INT}/shards/{{sfi_split}}_{{sfi_rate}}.h5",
    params:
        code=code("sfi", "resample"),
    log:
        "logs/sfi/resample_{sfi_split}_{sfi_rate}.log",
    benchmark:
        "benchmarks/out/sfi_resample/{sfi_split}_{sfi_rate}.tsv"
    shell:
        "{AUDIOPIPE} sfi resample --manifest {input} --output {output}"
        " --sampling_rate {wildcards.sfi_rate} > {log} 2>&1"


rule sfi_train:
    input:
        train=f"{SFI_INT}/shards/train_{SFI_TRAIN_RATE}.h5",
        valid=f"{SFI_INT}/shards/valid_{SFI_TRAIN_RATE}.h5",
    output:
        "results/sfi/models/{sfi_kind}/model.pt",
    params:
        model=json_arg(SFI["model"]),
        training=json_arg(SFI["training"]),
        code=code("sfi", "train"),
    threads: 2
    resources:
        **GPU,
    log:
        "logs/sfi/train_{sfi_kind}.log",
    benchmark:
        "benchmarks/out/sfi_train/{sfi_kind}.tsv"
    shell:
        "OMP_NUM_THREADS={threads} {GPU_RUN} --gpu-log {log}.gpu.tsv -- {AUDIOPIPE} sfi train"
        " --train_shard {input.train} --valid_shard {input.valid} --output {output}"
        " --kind {wildcards.sfi_kind} --model {params.model} --training {params.training} > {log} 2>&1"


rule sfi_evaluate:
    input:
        model=lambda wc: "results/sfi/models/{}/model.pt".format(
            "sfi" if PIPE.setting("sfi", wc.plan, wc.setting).values["method"] == "sfi" else "plain"),
        shard=lambda wc: f"{SFI_INT}/shards/test_{PIPE.setting('sfi', wc.plan, wc.setting).values['sampling_rate']}.h5",
    output:
        "results/sfi/{plan}/{setting}/tracks/chunk{chunk}.json",
    params:
        method=lambda wc: PIPE.setting("sfi", wc.plan, wc.setting).values["method"],
        n=SFI["evaluation"]["n_chunks"],
        seconds=SFI["evaluation"]["chunk_seconds"],
        code=code("sfi", "evaluate"),
    threads: 1
    log:
        "logs/sfi/{plan}/{setting}/evaluate_{chunk}.log",
    benchmark:
        "benchmarks/out/sfi_evaluate/{plan}/{setting}/{chunk}.tsv"
    shell:
        "OMP_NUM_THREADS={threads} {AUDIOPIPE} sfi evaluate --model {input.model} --shard {input.shard}"
        " --method {params.method} --output {output:q} --chunk {wildcards.chunk} --n_chunks {params.n}"
        " --chunk_seconds {params.seconds} > {log:q} 2>&1"


rule sfi_summarize:
    input:
        expand("results/sfi/{{plan}}/{{setting}}/tracks/chunk{chunk}.json", chunk=SFI_CHUNKS),
    output:
        scores="results/sfi/{plan}/{setting}/scores.csv",
        metrics="results/sfi/{plan}/{setting}/metrics.json",
    params:
        chunks=lambda wc, input: paths_arg(input),
        code=code("sfi", "summarize"),
    log:
        "logs/sfi/{plan}/{setting}/summarize.log",
    benchmark:
        "benchmarks/out/sfi_summarize/{plan}/{setting}.tsv"
    shell:
        "{AUDIOPIPE} sfi summarize --chunks {params.chunks} --scores {output.scores:q}"
        " --metrics {output.metrics:q} > {log:q} 2>&1"
