# SAR-SSL data part: simulated two-microphone shards with labels (issue 4).
# Wiring only; the work is done by `audiopipe sar_ssl simulate|summarize`.
# Measured-RIR sets (sar_ssl.data.measured, e.g. dechorate): prepare-measured writes the corpus
# manifest, simulate-measured the shards (same path pattern and contract as the simulated sets).
# LOCATA (sar_ssl.data.locata): the real-data TDOA task; prepare-measured --corpus locata writes
# the manifest, locata-segments the locata-{train,val,test} shards; with `demo: true` the corpus
# is the LOCATA-layout demo built from the dEchorate fixture (`audiopipe demo locata`).
# Target: results/sar_ssl/data/summary.json (rule sar_ssl_data), which needs every shard of every
# set (pretrain/val/test and downstream-rooms{R}-trial{t}).

import os
import re

SAR_SSL_DATA = config["sar_ssl"]["data"]
SAR_SSL_SIM = "data/interim/sar_ssl/sim"
# measured-RIR sets (sar_ssl.data.measured): corpus manifests under data/interim/sar_ssl/corpora/{set}/
SAR_SSL_MEASURED = SAR_SSL_DATA.get("measured") or {}
SAR_SSL_CORPORA = "data/interim/sar_ssl/corpora"
SAR_SSL_FIXTURES = os.environ.get("AUDIOPIPE_FIXTURES") or config.get("fixtures") or "../shared/fixtures"


def sar_ssl_measured_root(name):
    spec = SAR_SSL_MEASURED[name]
    return str(Path(SAR_SSL_FIXTURES, spec["root"])) if spec.get("in_fixtures") else spec["root"]


def sar_ssl_measured_manifest(name):
    return f"{SAR_SSL_CORPORA}/{name}/{SAR_SSL_MEASURED[name]['corpus']}_recordings.jsonl.gz"


SAR_SSL_LOCATA = SAR_SSL_DATA.get("locata") or {}


def sar_ssl_data_params(*keep):
    """sar_ssl.data without the measured-RIR and LOCATA blocks not named in `keep`, so that
    editing one kind of set does not re-run the others (Snakemake's params trigger)."""
    return json_arg({k: v for k, v in SAR_SSL_DATA.items()
                     if k not in ("measured", "locata") or k in keep})


def sar_ssl_locata_sets():
    """LOCATA segment set name -> spec (audiopipe.recipes.sar_ssl.locata_sets)."""
    from audiopipe.recipes.sar_ssl import locata_sets

    return locata_sets(SAR_SSL_DATA)


def sar_ssl_set_available(name):
    """Whether the data of a shard set can be had here: a measured-RIR set needs its corpus root,
    a LOCATA set its root (or, for the demo, the dEchorate fixture); simulated sets always."""
    if name in SAR_SSL_MEASURED:
        return Path(sar_ssl_measured_root(name)).exists()
    if name in sar_ssl_locata_sets():
        if SAR_SSL_LOCATA.get("demo"):
            return Path(SAR_SSL_FIXTURES, "rir/dechorate").is_dir()
        return Path(SAR_SSL_LOCATA["root"]).exists()
    return True


def sar_ssl_sets():
    """Set name -> spec of every simulated set (audiopipe.recipes.sar_ssl.data_sets)."""
    from audiopipe.recipes.sar_ssl import data_sets

    return data_sets(SAR_SSL_DATA)


def sar_ssl_shards(names=None):
    sets = sar_ssl_sets()
    return [f"{SAR_SSL_SIM}/{name}/shard-{k:04d}.h5"
            for name in (names or sets) for k in range(int(sets[name]["shards"]))]


wildcard_constraints:
    sar_ssl_set="[A-Za-z0-9_-]+",
    sar_ssl_shard="[0-9]{4}",


def sar_ssl_measured_targets():
    """Shards of the measured-RIR sets whose corpus root exists here (the dEchorate demo set
    lives in shared/fixtures, so a machine without them skips it)."""
    return [f"{SAR_SSL_SIM}/{name}/shard-{k:04d}.h5" for name, spec in SAR_SSL_MEASURED.items()
            if Path(sar_ssl_measured_root(name)).exists() for k in range(int(spec["shards"]))]


RECIPE_TARGETS["sar_ssl"] = lambda: [
    "results/sar_ssl/data/summary.json",
    *sar_ssl_measured_targets(),
    *rules.sar_ssl_learn_all.input,
]


rule sar_ssl_data:
    input:
        "results/sar_ssl/data/summary.json",


ruleorder: sar_ssl_simulate_measured > sar_ssl_simulate


rule sar_ssl_simulate:
    input:
        speech=SAR_SSL_DATA["speech_manifest"],
    output:
        f"{SAR_SSL_SIM}/{{sar_ssl_set}}/shard-{{sar_ssl_shard}}.h5",
    params:
        data=sar_ssl_data_params(),
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


rule sar_ssl_prepare_measured:
    output:
        f"{SAR_SSL_CORPORA}/{{sar_ssl_mset}}/{{sar_ssl_corpus}}_recordings.jsonl.gz",
    wildcard_constraints:
        sar_ssl_mset="|".join(map(re.escape, SAR_SSL_MEASURED)) or "(?!)",
    params:
        root=lambda w: sar_ssl_measured_root(w.sar_ssl_mset),
        outdir=lambda w: f"{SAR_SSL_CORPORA}/{w.sar_ssl_mset}",
        arrays=lambda w: " ".join(["--arrays", *SAR_SSL_MEASURED[w.sar_ssl_mset]["arrays"]])
        if SAR_SSL_MEASURED[w.sar_ssl_mset].get("arrays") else "",
    log:
        "logs/sar_ssl/corpora/{sar_ssl_mset}/{sar_ssl_corpus}.log",
    benchmark:
        "benchmarks/out/sar_ssl/corpora/{sar_ssl_mset}/{sar_ssl_corpus}.tsv"
    shell:
        "{AUDIOPIPE} sar_ssl prepare-measured --corpus {wildcards.sar_ssl_corpus} --root {params.root:q}"
        " --output-dir {params.outdir} {params.arrays} > {log} 2>&1"


rule sar_ssl_simulate_measured:
    input:
        rirs=lambda w: sar_ssl_measured_manifest(w.sar_ssl_set),
        speech=SAR_SSL_DATA["speech_manifest"],
    output:
        f"{SAR_SSL_SIM}/{{sar_ssl_set}}/shard-{{sar_ssl_shard}}.h5",
    wildcard_constraints:
        sar_ssl_set="|".join(map(re.escape, SAR_SSL_MEASURED)) or "(?!)",
    params:
        data=sar_ssl_data_params("measured"),
    log:
        "logs/sar_ssl/sim/{sar_ssl_set}/shard-{sar_ssl_shard}.log",
    benchmark:
        "benchmarks/out/sar_ssl/sim/{sar_ssl_set}/shard-{sar_ssl_shard}.tsv"
    threads: 1
    shell:
        "{AUDIOPIPE} sar_ssl simulate-measured --rir-manifest {input.rirs} --speech-manifest {input.speech}"
        " --output {output} --set-name {wildcards.sar_ssl_set} --shard {wildcards.sar_ssl_shard}"
        " --params {params.data} --threads {threads} > {log} 2>&1"


if SAR_SSL_LOCATA:

    ruleorder: sar_ssl_locata_segments > sar_ssl_simulate

    if SAR_SSL_LOCATA.get("demo"):

        rule sar_ssl_demo_locata:
            output:
                f"{SAR_SSL_LOCATA['root']}/DEMO.json",
            params:
                root=SAR_SSL_LOCATA["root"],
                fixtures=SAR_SSL_FIXTURES,
            log:
                "logs/demo/locata.log",
            benchmark:
                "benchmarks/out/demo/locata.tsv"
            shell:
                "{AUDIOPIPE} demo locata --output-dir {params.root} --fixtures {params.fixtures:q} > {log} 2>&1"

    rule sar_ssl_prepare_locata:
        input:
            [f"{SAR_SSL_LOCATA['root']}/DEMO.json"] if SAR_SSL_LOCATA.get("demo") else [],
        output:
            f"{SAR_SSL_CORPORA}/locata/locata_recordings.jsonl.gz",
        params:
            root=SAR_SSL_LOCATA["root"],
            outdir=f"{SAR_SSL_CORPORA}/locata",
        log:
            "logs/sar_ssl/corpora/locata.log",
        benchmark:
            "benchmarks/out/sar_ssl/corpora/locata.tsv"
        shell:
            "{AUDIOPIPE} sar_ssl prepare-measured --corpus locata --root {params.root:q}"
            " --output-dir {params.outdir} > {log} 2>&1"

    rule sar_ssl_locata_segments:
        input:
            f"{SAR_SSL_CORPORA}/locata/locata_recordings.jsonl.gz",
        output:
            f"{SAR_SSL_SIM}/{{sar_ssl_set}}/shard-{{sar_ssl_shard}}.h5",
        wildcard_constraints:
            sar_ssl_set="|".join(map(re.escape, sar_ssl_locata_sets())) or "(?!)",
        params:
            data=sar_ssl_data_params("locata"),
        log:
            "logs/sar_ssl/sim/{sar_ssl_set}/shard-{sar_ssl_shard}.log",
        benchmark:
            "benchmarks/out/sar_ssl/sim/{sar_ssl_set}/shard-{sar_ssl_shard}.tsv"
        shell:
            "{AUDIOPIPE} sar_ssl locata-segments --manifest {input} --output {output}"
            " --set-name {wildcards.sar_ssl_set} --shard {wildcards.sar_ssl_shard}"
            " --params {params.data} > {log} 2>&1"
