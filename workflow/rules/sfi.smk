# SFI recipe (Saito et al., TASLP 2022): SFI Conv-TasNet vs resampling vs plain Conv-TasNet on
# MUSDB18-HQ at several sampling rates. Wiring only: every shell calls `audiopipe sfi <stage>`.
#
#   snakemake --cores 2 sfi_all     -> results/sfi/sdr_table.{csv,md}, results/sfi/sdr_vs_rate.png
#
# Needs from common.smk: AUDIOPIPE, GPU_RUN, json_arg, recipe_settings, RECIPE_TARGETS;
# config = params.yaml (section `sfi`; top-level `fixtures`, overridden by $AUDIOPIPE_FIXTURES).

import os
from pathlib import Path

from audiopipe.io import read_jsonl
from audiopipe.plans.core import load_plans

SFI = config["sfi"]
SFI_PLANS = load_plans(SFI)
SFI_SETTINGS = {(p, s.id): s for p, plan in SFI_PLANS.items() for s in plan.settings()}
SFI_INT = "data/interim/sfi"
SFI_RES = "results/sfi"
SFI_FIXTURES = os.environ.get("AUDIOPIPE_FIXTURES") or config.get("fixtures") or "../shared/fixtures"
SFI_DEMO_SOURCE = f"{SFI_FIXTURES}/{SFI['demo']['track']}"
# settings built by default: --config select=... or sfi.select (all settings when empty)
SFI_SELECTED = [(s.plan, s.id) for s in recipe_settings("sfi")]
RECIPE_TARGETS["sfi"] = lambda: [f"{SFI_RES}/sdr_table.md", f"{SFI_RES}/sdr_vs_rate.png"]


wildcard_constraints:
    sfi_split="train|valid|test",
    sfi_rate=r"\d+",
    sfi_kind="sfi|plain",
    sfi_plan=r"[A-Za-z0-9_\-]+",
    sfi_setting=r"[^/]+",
    sfi_track=r"[a-z0-9_]+",


def sfi_setting(wc):
    return SFI_SETTINGS[(wc.sfi_plan, wc.sfi_setting)]


def sfi_test_tracks(wc):
    man = checkpoints.sfi_prepare.get().output.test
    return [r["id"] for r in read_jsonl(man)]


if SFI["demo"]["build"]:

    rule sfi_demo:
        output:
            manifest=f"{SFI['root']}/demo_manifest.jsonl",
            valid=f"{SFI['root']}/valid_tracks.txt",
        params:
            source=SFI_DEMO_SOURCE,
            splits=json_arg(SFI["demo"]["splits"]),
            seconds=SFI["demo"]["segment_seconds"],
        log:
            "logs/sfi/demo.log",
        shell:
            "{AUDIOPIPE} sfi demo --source '{params.source}' --output {SFI[root]}"
            " --segment-seconds {params.seconds} --splits {params.splits} > {log} 2>&1"


checkpoint sfi_prepare:
    input:
        [f"{SFI['root']}/demo_manifest.jsonl"] if SFI["demo"]["build"] else [],
    output:
        train=f"{SFI_INT}/manifests/musdb_train.jsonl",
        valid=f"{SFI_INT}/manifests/musdb_valid.jsonl",
        test=f"{SFI_INT}/manifests/musdb_test.jsonl",
    params:
        valid=f"--valid-list '{SFI['valid_list']}'" if SFI["valid_list"] else "",
    log:
        "logs/sfi/prepare.log",
    benchmark:
        "benchmarks/out/sfi/prepare.tsv"
    shell:
        "{AUDIOPIPE} sfi prepare --root '{SFI[root]}' --output-dir {SFI_INT}/manifests"
        " {params.valid} > {log} 2>&1"


rule sfi_resample:
    input:
        f"{SFI_INT}/manifests/musdb_{{sfi_split}}.jsonl",
    output:
        f"{SFI_INT}/shards/{{sfi_split}}_{{sfi_rate}}.h5",
    log:
        "logs/sfi/resample_{sfi_split}_{sfi_rate}.log",
    benchmark:
        "benchmarks/out/sfi/resample_{sfi_split}_{sfi_rate}.tsv"
    shell:
        "{AUDIOPIPE} sfi resample --manifest {input} --output {output}"
        " --sampling-rate {wildcards.sfi_rate} > {log} 2>&1"


rule sfi_train:
    input:
        train=f"{SFI_INT}/shards/train_{SFI['train_rate']}.h5",
        valid=f"{SFI_INT}/shards/valid_{SFI['train_rate']}.h5",
    output:
        f"{SFI_RES}/models/{{sfi_kind}}/model.pt",
    params:
        model=json_arg(SFI["model"]),
        training=json_arg(SFI["training"]),
    threads: 2
    resources:
        gpu=1,
    log:
        "logs/sfi/train_{sfi_kind}.log",
    benchmark:
        "benchmarks/out/sfi/train_{sfi_kind}.tsv"
    shell:
        "OMP_NUM_THREADS={threads} {GPU_RUN} {resources.gpu} -- {AUDIOPIPE} sfi train --train-shard {input.train} --valid-shard {input.valid}"
        " --output {output} --kind {wildcards.sfi_kind} --model {params.model}"
        " --training {params.training} > {log} 2>&1"


rule sfi_evaluate:
    input:
        model=lambda wc: f"{SFI_RES}/models/"
        + ("sfi" if sfi_setting(wc).values["method"] == "sfi" else "plain") + "/model.pt",
        shard=lambda wc: f"{SFI_INT}/shards/test_{sfi_setting(wc).values['sampling_rate']}.h5",
    output:
        f"{SFI_RES}/{{sfi_plan}}/{{sfi_setting}}/tracks/{{sfi_track}}.json",
    params:
        method=lambda wc: sfi_setting(wc).values["method"],
        chunk=SFI["evaluation"]["chunk_seconds"],
    threads: 1
    log:
        "logs/sfi/evaluate/{sfi_plan}/{sfi_setting}/{sfi_track}.log",
    benchmark:
        "benchmarks/out/sfi/evaluate/{sfi_plan}/{sfi_setting}/{sfi_track}.tsv"
    shell:
        "OMP_NUM_THREADS={threads} {AUDIOPIPE} sfi evaluate --model {input.model}"
        " --shard {input.shard} --track {wildcards.sfi_track} --method {params.method}"
        " --chunk-seconds {params.chunk} --output '{output}' > '{log}' 2>&1"


rule sfi_aggregate:
    input:
        lambda wc: expand(f"{SFI_RES}/{wc.sfi_plan}/{wc.sfi_setting}/tracks/{{t}}.json",
                          t=sfi_test_tracks(wc)),
    output:
        f"{SFI_RES}/{{sfi_plan}}/{{sfi_setting}}/metrics.json",
    params:
        values=lambda wc: json_arg(sfi_setting(wc).values),
    log:
        "logs/sfi/aggregate/{sfi_plan}/{sfi_setting}.log",
    benchmark:
        "benchmarks/out/sfi/aggregate/{sfi_plan}/{sfi_setting}.tsv"
    shell:
        "{AUDIOPIPE} sfi aggregate --inputs {input:q} --output '{output}'"
        " --plan {wildcards.sfi_plan} --setting '{wildcards.sfi_setting}'"
        " --values {params.values} > '{log}' 2>&1"


rule sfi_table:
    input:
        [f"{SFI_RES}/{p}/{sid}/metrics.json" for (p, sid) in SFI_SELECTED],
    output:
        csv=f"{SFI_RES}/sdr_table.csv",
        md=report(f"{SFI_RES}/sdr_table.md", category="sfi"),
        png=report(f"{SFI_RES}/sdr_vs_rate.png", category="sfi"),
    log:
        "logs/sfi/table.log",
    benchmark:
        "benchmarks/out/sfi/table.tsv"
    shell:
        "{AUDIOPIPE} sfi table --inputs {input:q} --output-dir {SFI_RES} > {log} 2>&1"


rule sfi_all:
    input:
        rules.sfi_table.output,
