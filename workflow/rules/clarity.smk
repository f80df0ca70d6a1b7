# ICASSP 2023 Clarity recipe: prepare -> cache crops -> train Conv-TasNet -> enhance ->
# NAL-R + compressor + HASPI/HASQI per listener -> scores, metrics.json, table.
# Every rule calls one stage of audiopipe.recipes.clarity through the CLI.

CL = config["clarity"]
CL_TRAIN_SPLIT = config["corpora"]["clarity"].get("train_split", "train")
CL_EVAL_SPLIT = config["corpora"]["clarity"].get("eval_split", "dev")
CL_CHUNKS = range(CL["evaluate"]["n_chunks"])
CL_EVAL_MANIFEST = f"data/interim/clarity/clarity_{CL_EVAL_SPLIT}.jsonl.gz"


def clarity_systems():
    """metrics.json of every selected Conv-TasNet setting."""
    return [f"results/clarity/{s.plan}/{s.id}/metrics.json" for s in recipe_settings("clarity")]


RECIPE_TARGETS["clarity"] = lambda: ["results/clarity/metrics.json", "results/clarity/tables/systems.md"]


rule clarity_cache:
    input:
        f"data/interim/clarity/clarity_{CL_TRAIN_SPLIT}.jsonl.gz",
    output:
        "data/features/clarity/train_shard{shard}.h5",
    params:
        c=CL["cache"],
    log:
        "logs/clarity/cache_{shard}.log",
    benchmark:
        "benchmarks/out/clarity/cache_{shard}.tsv"
    shell:
        "{AUDIOPIPE} clarity cache --manifest {input} --output {output} --shard {wildcards.shard}"
        " --n-shards {params.c[n_shards]} --sample-rate {params.c[sample_rate]} --crop-s {params.c[crop_s]}"
        " --crops-per-scene {params.c[crops_per_scene]} --target {params.c[target]}"
        " --val-fraction {params.c[val_fraction]} --seed {params.c[seed]} > {log} 2>&1"


rule clarity_train:
    input:
        expand("data/features/clarity/train_shard{shard}.h5", shard=range(CL["cache"]["n_shards"])),
    output:
        "results/clarity/{plan}/{setting}/model.pt",
    params:
        model=json_arg(CL["model"]),
        train=json_arg(CL["train"]),
        setting=lambda wc: json_arg(setting_values("clarity", wc.plan, wc.setting)),
    threads: workflow.cores
    resources:
        gpu=1,
    log:
        "logs/clarity/{plan}/{setting}/train.log",
    benchmark:
        "benchmarks/out/clarity/{plan}/{setting}/train.tsv"
    shell:
        "OMP_NUM_THREADS={threads} {GPU_RUN} {resources.gpu} -- {AUDIOPIPE} clarity train --shards {input}"
        " --output {output} --model {params.model} --train {params.train} --setting {params.setting} > {log} 2>&1"


rule clarity_enhance:
    input:
        manifest=CL_EVAL_MANIFEST,
        model="results/clarity/{plan}/{setting}/model.pt",
    output:
        directory("results/clarity/{plan}/{setting}/enhanced/chunk{chunk}"),
    params:
        n=CL["evaluate"]["n_chunks"],
    log:
        "logs/clarity/{plan}/{setting}/enhance_{chunk}.log",
    benchmark:
        "benchmarks/out/clarity/{plan}/{setting}/enhance_{chunk}.tsv"
    shell:
        "OMP_NUM_THREADS=1 {AUDIOPIPE} clarity enhance --manifest {input.manifest} --model {input.model}"
        " --output-dir {output} --chunk {wildcards.chunk} --n-chunks {params.n} > {log} 2>&1"


def _clarity_eval_cmd(system, enhanced=""):
    return (
        "OMP_NUM_THREADS=1 {AUDIOPIPE} clarity evaluate --manifest {input.manifest} --system " + system
        + " --output {output} --listeners {params.listeners} --chunk {wildcards.chunk}"
        + " --n-chunks {params.n} --nalr {params.nalr} --compressor {params.compressor}"
        + " --soft-clip" * bool(CL.get("soft_clip", True)) + " --no-soft-clip" * (not CL.get("soft_clip", True))
        + " --set-random-seed" * bool(CL["evaluate"].get("set_random_seed", True))
        + " --no-set-random-seed" * (not CL["evaluate"].get("set_random_seed", True))
        + enhanced + " > {log} 2>&1"
    )


CL_EVAL_PARAMS = dict(
    listeners=f"{corpus_root('clarity')}/clarity_data/metadata/listeners.json",
    n=CL["evaluate"]["n_chunks"],
    nalr=json_arg(CL["nalr"]),
    compressor=json_arg(CL["compressor"]),
)


rule clarity_evaluate_baseline:
    input:
        manifest=CL_EVAL_MANIFEST,
    output:
        "results/clarity/baseline/scores/chunk{chunk}.csv",
    params:
        **CL_EVAL_PARAMS,
    log:
        "logs/clarity/baseline/evaluate_{chunk}.log",
    benchmark:
        "benchmarks/out/clarity/baseline/evaluate_{chunk}.tsv"
    shell:
        _clarity_eval_cmd("baseline")


rule clarity_evaluate:
    input:
        manifest=CL_EVAL_MANIFEST,
        enhanced="results/clarity/{plan}/{setting}/enhanced/chunk{chunk}",
    output:
        "results/clarity/{plan}/{setting}/scores/chunk{chunk}.csv",
    params:
        **CL_EVAL_PARAMS,
    log:
        "logs/clarity/{plan}/{setting}/evaluate_{chunk}.log",
    benchmark:
        "benchmarks/out/clarity/{plan}/{setting}/evaluate_{chunk}.tsv"
    shell:
        _clarity_eval_cmd("{wildcards.plan}/{wildcards.setting}", " --enhanced-dir {input.enhanced}")


rule clarity_summarize:
    input:
        expand("results/clarity/{{sysdir}}/scores/chunk{chunk}.csv", chunk=CL_CHUNKS),
    output:
        scores="results/clarity/{sysdir}/scores.csv",
        metrics="results/clarity/{sysdir}/metrics.json",
    wildcard_constraints:
        sysdir="baseline|(?!baseline)[^/]+/[^/]+",
    log:
        "logs/clarity/{sysdir}/summarize.log",
    shell:
        "{AUDIOPIPE} clarity summarize --chunks {input} --scores {output.scores} --metrics {output.metrics} > {log} 2>&1"


rule clarity_report:
    input:
        baseline="results/clarity/baseline/metrics.json",
        systems=clarity_systems(),
    output:
        metrics="results/clarity/metrics.json",
        table=report("results/clarity/tables/systems.md", category="clarity", caption="../report/clarity.rst"),
    log:
        "logs/clarity/report.log",
    shell:
        "{AUDIOPIPE} clarity report --baseline {input.baseline} --systems {input.systems}"
        " --output {output.metrics} --table {output.table} > {log} 2>&1"
