# Generic rules: build any demo corpus, prepare any corpus into lhotse-style manifests, once,
# whatever recipes read it (audiopipe.corpora.registry, audiopipe.demo). Wiring only.

for _corpus in PIPE.corpora_used():
    if PIPE.corpus(_corpus)["demo"] is not None:

        rule:
            name:
                f"demo_{_corpus}"
            output:
                f"{PIPE.corpus(_corpus)['root']}/DEMO.json",
            params:
                corpus=_corpus,
                fixtures=str(PIPE.fixtures or ""),
                options=json_arg(PIPE.corpus(_corpus)["demo"]),
                code=demo_digest(_corpus),
            log:
                f"logs/demo/{_corpus}.log",
            benchmark:
                f"benchmarks/out/demo_{_corpus}.tsv"
            shell:
                "{AUDIOPIPE} demo {params.corpus} --root \"$(dirname {output:q})\" --fixtures={params.fixtures:q}"
                " --options {params.options} > {log} 2>&1"

    rule:
        name:
            f"corpus_{_corpus}"
        input:
            PIPE.corpus_ready(_corpus),
        output:
            PIPE.manifests(_corpus),
        params:
            corpus=_corpus,
            root=lambda wc, c=_corpus: PIPE.corpus(c)["root"],
            outdir=lambda wc, output: str(Path(output[0]).parent),
            options=json_arg(PIPE.corpus(_corpus)["options"]),
            code=corpus_digest(_corpus),
        log:
            f"logs/corpora/{_corpus}.log",
        benchmark:
            f"benchmarks/out/corpus_{_corpus}.tsv"
        shell:
            "{AUDIOPIPE} corpus prepare {params.corpus} --root {params.root:q} --output-dir {params.outdir:q}"
            " --options {params.options} > {log} 2>&1"
