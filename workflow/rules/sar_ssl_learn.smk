# SAR-SSL learning sub-DAG (issue 5): feature cache per shard -> pre-training -> one job per
# downstream plan setting -> table + MAE-vs-rooms plot per plan.
# Plans with a `fold` factor run leave-one-room-out on the measured-RIR set (sets.real, e.g.
# ACE) instead of drawing n_rooms simulated rooms per trial; plans with their own `sets` (e.g.
# LOCATA's TDOA) train on the whole train set. Plans whose data is missing here are skipped.
# Wiring only; every command is `audiopipe sar_ssl <stage>` (audiopipe.recipes.sar_ssl_learn).
# Uses AUDIOPIPE, GPU_RUN and json_arg from common.smk; config["sar_ssl"] from params.yaml.

from audiopipe.recipes.sar_ssl_learn import plan_sets as sar_ssl_learn_plan_sets
from audiopipe.recipes.sar_ssl_learn import plan_settings as sar_ssl_plan_settings

# signal shards written by the acoustics rules (shard contract) and their cached features
SAR_SSL_SIGNALS = "data/interim/sar_ssl/sim/{set}/shard-{shard}.h5"
SAR_SSL_FEATURES = "data/features/sar_ssl/{set}/shard-{shard}.h5"
SAR_SSL_PRETRAIN = "results/sar_ssl/pretrain"


def sar_ssl_feature_files(spec):
    """Feature shards of one set spec {set: name, shards: n}."""
    return expand(SAR_SSL_FEATURES, set=spec["set"],
                  shard=[f"{i:04d}" for i in range(int(spec["shards"]))])


def sar_ssl_plan_sets(plan):
    """Shard sets {role: {set, shards}} of a plan (audiopipe.recipes.sar_ssl_learn.plan_sets)."""
    return sar_ssl_learn_plan_sets(config["sar_ssl"]["plans"][plan], config["sar_ssl"]["downstream"]["sets"])


def sar_ssl_downstream_inputs(w):
    """Feature shards of a downstream setting (see sar_ssl_plan_sets)."""
    return {k: sar_ssl_feature_files(v) for k, v in sar_ssl_plan_sets(w.plan).items()}


def sar_ssl_run_plans():
    """`downstream.run_plans` whose data can be had here (sar_ssl_set_available of the data
    rules); the others are skipped with a message naming the missing set."""
    available = globals().get("sar_ssl_set_available")
    out = []
    for plan in config["sar_ssl"]["downstream"]["run_plans"]:
        missing = [] if available is None else [
            v["set"] for v in sar_ssl_plan_sets(plan).values() if not available(v["set"])]
        if missing:
            print(f"audiopipe: sar_ssl plan {plan!r} skipped: no data for set(s) {missing} "
                  "(see sar_ssl.data in params.yaml)", file=sys.stderr)
            continue
        out.append(plan)
    return out


def sar_ssl_downstream_args(w):
    """--train/--val/--test options matching sar_ssl_downstream_inputs."""
    return " ".join(f"--{k} " + " ".join(v) for k, v in sar_ssl_downstream_inputs(w).items())


def sar_ssl_setting_metrics(plan):
    """metrics.json of every setting of a plan."""
    return [f"results/sar_ssl/{plan}/{sid}/metrics.json"
            for sid in sar_ssl_plan_settings(config["sar_ssl"]["plans"][plan])]


rule sar_ssl_learn_all:
    input:
        expand("results/sar_ssl/{plan}/{name}",
               plan=sar_ssl_run_plans(),
               name=["table.csv", "table.md", "mae_vs_rooms.png"]),


rule sar_ssl_learn_features:
    input:
        SAR_SSL_SIGNALS,
    output:
        SAR_SSL_FEATURES,
    wildcard_constraints:
        set="[^/]+",
        shard="[0-9]+",
    log:
        "logs/sar_ssl/features/{set}/shard-{shard}.log",
    benchmark:
        "benchmarks/out/sar_ssl/features/{set}/shard-{shard}.tsv"
    shell:
        "{AUDIOPIPE} sar_ssl features --shard {input} --output {output} > {log} 2>&1"


rule sar_ssl_learn_pretrain:
    input:
        train=sar_ssl_feature_files(config["sar_ssl"]["pretrain"]["sets"]["train"]),
        val=sar_ssl_feature_files(config["sar_ssl"]["pretrain"]["sets"]["val"]),
    output:
        model=f"{SAR_SSL_PRETRAIN}/model.pt",
        metrics=f"{SAR_SSL_PRETRAIN}/metrics.json",
    params:
        outdir=SAR_SSL_PRETRAIN,
        config=json_arg(config["sar_ssl"]["pretrain"]),
    resources:
        gpu=1,
    log:
        "logs/sar_ssl/pretrain.log",
    benchmark:
        "benchmarks/out/sar_ssl/pretrain.tsv"
    shell:
        "{GPU_RUN} {resources.gpu} -- {AUDIOPIPE} sar_ssl pretrain --train {input.train} --val {input.val}"
        " --output-dir {params.outdir} --config {params.config} > {log} 2>&1"


rule sar_ssl_learn_downstream:
    input:
        unpack(sar_ssl_downstream_inputs),
        pretrained=f"{SAR_SSL_PRETRAIN}/model.pt",
    output:
        "results/sar_ssl/{plan}/{setting}/metrics.json",
    wildcard_constraints:
        plan="[^/]+",
        setting="[^/]+",
    params:
        plan=lambda w: json_arg(config["sar_ssl"]["plans"][w.plan]),
        data=sar_ssl_downstream_args,
        # training settings only: editing run_plans or the set names re-runs nothing
        config=json_arg({k: v for k, v in config["sar_ssl"]["downstream"].items()
                         if k not in ("run_plans", "sets")}),
    resources:
        gpu=1,
    log:
        "logs/sar_ssl/{plan}/{setting}.log",
    benchmark:
        "benchmarks/out/sar_ssl/{plan}/{setting}.tsv"
    shell:
        "{GPU_RUN} {resources.gpu} -- {AUDIOPIPE} sar_ssl downstream --setting '{wildcards.setting}'"
        " --plan {params.plan} {params.data}"
        " --pretrained {input.pretrained} --output {output} --config {params.config}"
        " > {log} 2>&1"


rule sar_ssl_learn_table:
    input:
        lambda w: sar_ssl_setting_metrics(w.plan),
    output:
        csv="results/sar_ssl/{plan}/table.csv",
        md=report("results/sar_ssl/{plan}/table.md", category="sar_ssl"),
        png=report("results/sar_ssl/{plan}/mae_vs_rooms.png", category="sar_ssl"),
    wildcard_constraints:
        plan="[^/]+",
    params:
        plan=lambda w: json_arg(config["sar_ssl"]["plans"][w.plan]),
    log:
        "logs/sar_ssl/{plan}/table.log",
    benchmark:
        "benchmarks/out/sar_ssl/{plan}/table.tsv"
    shell:
        "{AUDIOPIPE} sar_ssl table --plan-dir results/sar_ssl/{wildcards.plan}"
        " --plan {params.plan} --output {output.csv} --markdown {output.md}"
        " --plot {output.png} > {log} 2>&1"
