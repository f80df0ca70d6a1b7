# audiopipe — one reproducible DAG from raw corpora to metric tables.
# Thin by design: configuration, validation, the rule files of the registered recipes, targets.
#   snakemake --cores all                        every recipe of params.yaml `recipes:`
#   snakemake -n                                 the plan, without running it
#   snakemake --cores all --config select=size_lr   settings chosen by a doce selector
#   snakemake --cores 8 --resources gpu=4 -- results   (`results`, the same as `all`, after --)
#   snakemake --profile workflow/profiles/local | workflow/profiles/slurm
from audiopipe.config import validate_params
from audiopipe.pipeline.registry import recipe_names


configfile: "params.yaml"


validate_params(config, f"{workflow.basedir}/workflow/schemas/params.schema.yaml")


wildcard_constraints:
    plan="[^/]+",
    setting="[^/]+",
    chunk="[0-9]+",
    shard="[0-9]+",


include: "workflow/rules/common.smk"
include: "workflow/rules/corpora.smk"
include: "workflow/rules/tables.smk"


for _recipe in recipe_names():

    include: f"workflow/rules/{_recipe}.smk"


rule all:
    input:
        PIPE.targets(),
    default_target: True


# `snakemake results` builds the same targets as `all` (write `-- results` after --resources,
# which would otherwise swallow it).
rule results:
    input:
        rules.all.input,
