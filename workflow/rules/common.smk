# The Python helpers of the rules files (DESIGN.md says rules are wiring; this is the only place for
# helpers). Every decision (which settings, which corpora, which targets, which code) is made by
# audiopipe.pipeline; this file only exposes it to the rules.
import json
import shlex
import sys
from pathlib import Path

from audiopipe.pipeline.gpu import rule_resources
from audiopipe.pipeline.provenance import corpus_digest, demo_digest, digest_of, stage_digest
from audiopipe.pipeline.workflow import Pipeline

# the CLI of the Python that runs Snakemake (works in a venv, a worktree or under SLURM)
AUDIOPIPE = f"{shlex.quote(sys.executable)} -m audiopipe"
# prefix of GPU jobs: takes free device slots, exports CUDA_VISIBLE_DEVICES (audiopipe.pipeline.gpu)
GPU_RUN = f"{AUDIOPIPE} gpu-run --gpus 1"
# resources of every GPU job (`resources: **GPU` in the rules): one device; the site model or gres from
# $AUDIOPIPE_GPU_MODEL / $AUDIOPIPE_GPU_GRES (audiopipe.pipeline.gpu.rule_resources)
GPU = rule_resources(1)
# corpora, plan selections (checked now, before any job runs), targets
PIPE = Pipeline(config)
# digest of the table writer's code (the generic table rule's `code` param)
TABLE_CODE = digest_of("audiopipe.pipeline.tables:table_command")


def json_arg(obj):
    """One shell word holding ``obj`` as JSON (plain Python types only)."""
    return shlex.quote(json.dumps(obj, sort_keys=True))


def paths_arg(files):
    """A list-of-paths option value: one shell word holding a JSON list."""
    return json_arg([str(f) for f in files])


def code(recipe, stage):
    """Digest of the code a stage runs (audiopipe.pipeline.provenance): a rule's `code` param,
    so that editing that code reruns the rule's jobs (Snakemake's params trigger)."""
    return stage_digest(recipe, stage)
