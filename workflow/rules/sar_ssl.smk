# SAR-SSL data part: simulated two-microphone shards with labels (issue 4).
# Wiring only; the work is done by `audiopipe sar_ssl simulate|summarize`.
# Target: results/sar_ssl/data/summary.json (rule sar_ssl_data), which needs every shard of every
# set (pretrain/val/test and downstream-rooms{R}-trial{t}).

SAR_SSL_DATA = config["sar_ssl"]["data"]
SAR_SSL_SIM = "data/interim/sar_ssl/sim"


def sar_ssl_sets():
    """Set name -> spec, mirroring audiopipe.recipes.sar_ssl.data_sets."""
    sets = {k: dict(v) for k, v in SAR_SSL_DATA["sets"].items()}
    ds = SAR_SSL_DATA["downstream"]
    for r in ds["room_counts"]:
        for t in range(int(ds["trials"])):
            sets[f"downstream-rooms{int(r)}-trial{t}"] = {"shards": int(ds["shards"])}
    return sets


def sar_ssl_shards(names=None):
    sets = sar_ssl_sets()
    return [f"{SAR_SSL_SIM}/{name}/shard-{k:04d}.h5"
            for name in (names or sets) for k in range(int(sets[name]["shards"]))]


wildcard_constraints:
    sar_ssl_set="[A-Za-z0-9_-]+",
    sar_ssl_shard="[0-9]{4}",


RECIPE_TARGETS["sar_ssl"] = lambda: ["results/sar_ssl/data/summary.json", *rules.sar_ssl_learn_all.input]


rule sar_ssl_data:
    input:
        "results/sar_ssl/data/summary.json",


rule sar_ssl_simulate:
    input:
        speech=SAR_SSL_DATA["speech_manifest"],
    output:
        f"{SAR_SSL_SIM}/{{sar_ssl_set}}/shard-{{sar_ssl_shard}}.h5",
    params:
        data=json_arg(SAR_SSL_DATA),
    log:
        "logs/sar_ssl/sim/{sar_ssl_set}/shard-{sar_ssl_shard}.log",
    benchmark:
        "benchmarks/out/sar_ssl/sim/{sar_ssl_set}/shard-{sar_ssl_shard}.tsv"
    threads: 1
    shell:
        "{AUDIOPIPE} sar_ssl simulate --speech-manifest {input.speech} --output {output}"
        " --set-name {wildcards.sar_ssl_set} --shard {wildcards.sar_ssl_shard}"
        " --params {params.data} --threads {threads} > {log} 2>&1"


rule sar_ssl_summarize:
    input:
        sar_ssl_shards(),
    output:
        "results/sar_ssl/data/summary.json",
    log:
        "logs/sar_ssl/data_summary.log",
    benchmark:
        "benchmarks/out/sar_ssl/data_summary.tsv"
    shell:
        "{AUDIOPIPE} sar_ssl summarize --shards {input} --output {output} > {log} 2>&1"
