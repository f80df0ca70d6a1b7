# audiopipe — one reproducible DAG from raw corpora to metric tables.
# Thin by design: configuration, validation, rule files, and the final targets.
#   snakemake --cores all                 the default params: demo corpora -> results/
#   snakemake -n                          list the plan
#   snakemake --profile workflow/profiles/local | workflow/profiles/slurm
from audiopipe.config import validate_params


configfile: "params.yaml"


validate_params(config, f"{workflow.basedir}/workflow/schemas/params.schema.yaml")


include: "workflow/rules/common.smk"
include: "workflow/rules/corpora.smk"
include: "workflow/rules/clarity.smk"
include: "workflow/rules/transcoder.smk"
include: "workflow/rules/strf.smk"
include: "workflow/rules/sar_ssl.smk"
include: "workflow/rules/sar_ssl_learn.smk"
include: "workflow/rules/sfi.smk"


rule all:
    input:
        recipe_targets(config["recipes"]),
    default_target: True


# `snakemake results/` (or `snakemake results`) builds the same targets as `all`.
rule results:
    input:
        rules.all.input,
