# ICASSP 2023 Clarity recipe (audiopipe.recipes.clarity): cache training crops -> train
# Conv-TasNet per plan setting -> enhance -> NAL-R + compressor + better-ear HASPI/HASQI per
# listener -> per-system scores; the passthrough baseline is scored the same way. Corpus
# manifests come from corpora.smk, plan tables from tables.smk. Wiring only.

CL = config["clarity"]
CL_TRAIN = PIPE.manifest("clarity", CL["train_split"])
CL_EVAL = PIPE.manifest("clarity", CL["eval_split"])
CL_CHUNKS = range(CL["evaluate"]["n_chunks"])
CL_LISTENERS = f"{PIPE.corpus('clarity')['root']}/clarity_data/metadata/listeners.json"
CL_EVAL_OPTS = (
    f"--listeners {shlex.quote(CL_LISTENERS)} --n_chunks {CL['evaluate']['n_chunks']}"
    f" --nalr {json_arg(CL['nalr'])} --compressor {json_arg(CL['compressor'])}"
    f" --soft_clip {str(CL['soft_clip']).lower()} --set_random_seed {str(CL['evaluate']['set_random_seed']).lower()}"
)


rule clarity_cache:
    input:
        CL_TRAIN,
    output:
        "data/features/clarity/train_shard{shard}.h5",
    params:
        c=CL["cache"],
        code=code("clarity", "cache"),
    log:
        "logs/clarity/cache_{shard}.log",
    benchmark:
        "benchmarks/out/clarity_cache/{shard}.tsv"
    shell:
        "{AUDIOPIPE} clarity cache --manifest {input} --output {output} --shard {wildcards.shard}"
        " --n_shards {params.c[n_shards]} --sampling_rate {params.c[sampling_rate]} --crop_s {params.c[crop_s]}"
        " --crops_per_scene {params.c[crops_per_scene]} --target {params.c[target]}"
        " --val_fraction {params.c[val_fraction]} --seed {params.c[seed]} > {log} 2>&1"


rule clarity_train:
    input:
        expand("data/features/clarity/train_shard{shard}.h5", shard=range(CL["cache"]["n_shards"])),
    output:
        "results/clarity/{plan}/{setting}/model.pt",
    params:
        shards=lambda wc, input: paths_arg(input),
        model=lambda wc: json_arg(PIPE.setting_config("clarity", wc.plan, wc.setting)["model"]),
        train=lambda wc: json_arg(PIPE.setting_config("clarity", wc.plan, wc.setting)["train"]),
        code=code("clarity", "train"),
    threads: 2
    resources:
        **GPU,
    log:
        "logs/clarity/{plan}/{setting}/train.log",
    benchmark:
        "benchmarks/out/clarity_train/{plan}/{setting}.tsv"
    shell:
        "OMP_NUM_THREADS={threads} {GPU_RUN} --gpu-log {log}.gpu.tsv --"
        " {AUDIOPIPE} clarity train --shards {params.shards} --output {output}"
        " --model {params.model} --train {params.train} > {log} 2>&1"


rule clarity_enhance:
    input:
        manifest=CL_EVAL,
        model="results/clarity/{plan}/{setting}/model.pt",
    output:
        directory("results/clarity/{plan}/{setting}/enhanced/chunk{chunk}"),
    params:
        n=CL["evaluate"]["n_chunks"],
        code=code("clarity", "enhance"),
    log:
        "logs/clarity/{plan}/{setting}/enhance_{chunk}.log",
    benchmark:
        "benchmarks/out/clarity_enhance/{plan}/{setting}/{chunk}.tsv"
    shell:
        "OMP_NUM_THREADS=1 {AUDIOPIPE} clarity enhance --manifest {input.manifest} --model {input.model}"
        " --output_dir {output} --chunk {wildcards.chunk} --n_chunks {params.n} > {log} 2>&1"


rule clarity_evaluate_baseline:
    input:
        manifest=CL_EVAL,
    output:
        "results/clarity/baseline/scores/chunk{chunk}.csv",
    params:
        opts=CL_EVAL_OPTS,
        code=code("clarity", "evaluate"),
    log:
        "logs/clarity/baseline/evaluate_{chunk}.log",
    benchmark:
        "benchmarks/out/clarity_evaluate_baseline/{chunk}.tsv"
    shell:
        "OMP_NUM_THREADS=1 {AUDIOPIPE} clarity evaluate --manifest {input.manifest} --system passthrough"
        " --output {output} --chunk {wildcards.chunk} {params.opts} > {log} 2>&1"


rule clarity_evaluate:
    input:
        manifest=CL_EVAL,
        enhanced="results/clarity/{plan}/{setting}/enhanced/chunk{chunk}",
    output:
        "results/clarity/{plan}/{setting}/scores/chunk{chunk}.csv",
    params:
        opts=CL_EVAL_OPTS,
        code=code("clarity", "evaluate"),
    log:
        "logs/clarity/{plan}/{setting}/evaluate_{chunk}.log",
    benchmark:
        "benchmarks/out/clarity_evaluate/{plan}/{setting}/{chunk}.tsv"
    shell:
        "OMP_NUM_THREADS=1 {AUDIOPIPE} clarity evaluate --manifest {input.manifest}"
        " --system {wildcards.plan}/{wildcards.setting} --enhanced_dir {input.enhanced}"
        " --output {output} --chunk {wildcards.chunk} {params.opts} > {log} 2>&1"


rule clarity_summarize:
    input:
        expand("results/clarity/{{system}}/scores/chunk{chunk}.csv", chunk=CL_CHUNKS),
    output:
        scores="results/clarity/{system}/scores.csv",
        metrics="results/clarity/{system}/metrics.json",
        timing="results/clarity/{system}/timing.json",
    wildcard_constraints:
        system="baseline|[^/]+/[^/]+",
    params:
        chunks=lambda wc, input: paths_arg(input),
        code=code("clarity", "summarize"),
    log:
        "logs/clarity/{system}/summarize.log",
    benchmark:
        "benchmarks/out/clarity_summarize/{system}.tsv"
    shell:
        "{AUDIOPIPE} clarity summarize --chunks {params.chunks} --scores {output.scores}"
        " --metrics {output.metrics} --timing {output.timing} > {log} 2>&1"
