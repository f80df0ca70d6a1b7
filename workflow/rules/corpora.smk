# Corpus manifests (prepare_*) and the embedded demo corpora, shared by the recipes.


def corpus_root(name):
    return config["corpora"][name]["root"]


def corpus_ready(name):
    """The file that proves a corpus root is complete: DEMO.json for a demo corpus."""
    spec = config["corpora"][name]
    return [f"{spec['root']}/DEMO.json"] if spec.get("demo") else []


rule demo_clarity:
    output:
        f"{corpus_root('clarity')}/DEMO.json",
    params:
        root=corpus_root("clarity"),
        fixtures=config.get("fixtures", ""),
        opts=config["demo"]["clarity"],
    log:
        "logs/demo/clarity.log",
    benchmark:
        "benchmarks/out/demo/clarity.tsv"
    shell:
        "{AUDIOPIPE} demo clarity --output-dir {params.root} --fixtures {params.fixtures:q}"
        " --n-train-scenes {params.opts[n_train_scenes]} --n-dev-scenes {params.opts[n_dev_scenes]}"
        " --listeners-per-scene {params.opts[listeners_per_scene]}"
        " --snr-db {params.opts[snr_db][0]} {params.opts[snr_db][1]}"
        " --t60-s {params.opts[t60_s][0]} {params.opts[t60_s][1]}"
        " --n-interferers {params.opts[n_interferers][0]} {params.opts[n_interferers][1]}"
        " --max-order {params.opts[max_order]} --seed {params.opts[seed]} > {log} 2>&1"


rule clarity_prepare:
    input:
        corpus_ready("clarity"),
    output:
        "data/interim/clarity/clarity_{split}.jsonl.gz",
    params:
        root=corpus_root("clarity"),
    log:
        "logs/clarity/prepare_{split}.log",
    benchmark:
        "benchmarks/out/clarity/prepare_{split}.tsv"
    shell:
        "{AUDIOPIPE} clarity prepare --root {params.root} --split {wildcards.split} --output {output} > {log} 2>&1"
