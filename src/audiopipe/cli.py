"""The ``audiopipe`` command, built from the recipe registry.

Every recipe of :mod:`audiopipe.pipeline.registry` is a sub-command with one sub-command per
stage; a stage's options come from its function's signature and its help from the numpydoc
``Parameters`` section, read by jsonargparse. So a Snakemake rule, a test and a person at the
shell call the same code::

    audiopipe --help                      recipes, stages and commands
    audiopipe clarity --help              the stages of a recipe
    audiopipe clarity cache --help        one stage, with its parameters
    audiopipe clarity cache --manifest m.jsonl.gz --output s.h5 --shard 0 --n_shards 2
    audiopipe plan clarity -s 'size_lr/lr=0.001'

``dict`` parameters take JSON or YAML (``--model '{"N": 128}'``), ``list`` parameters a JSON/YAML
list (``--shards '[a.h5, b.h5]'``) or repeated ``--shards+ a.h5``. Logging goes to stderr,
which the rules redirect into each job's log file.
"""

from __future__ import annotations

import importlib
import inspect
import logging
import os
import sys

from audiopipe import __version__

#: commands of the core: name -> (module, function, one line)
COMMANDS: dict[str, tuple[str, str, str]] = {
    "corpus": ("audiopipe.corpora.cli", "corpus_command", "prepare a corpus into lhotse-style manifests"),
    "demo": ("audiopipe.corpora.cli", "demo_command", "build a demo corpus from real recordings"),
    "plan": ("audiopipe.pipeline.commands", "plan_command", "list the settings a selector chooses"),
    "timings": ("audiopipe.pipeline.commands", "timings_command", "where a run's time went, per rule"),
    "table": ("audiopipe.pipeline.tables", "table_command", "write a plan's table and plot from its results"),
    "gpu-run": ("audiopipe.pipeline.gpu", "gpu_run_command", "run a command holding free GPU slots"),
    "data": ("audiopipe.pipeline.dvc", "data_command", "track a raw corpus with DVC"),
    "dvc-yaml": ("audiopipe.pipeline.dvc", "dvc_yaml_command", "write dvc.yaml from the recipe registry"),
    "code-digest": ("audiopipe.pipeline.provenance", "code_digest_command",
                    "print the digest of the code a stage runs"),
}

log = logging.getLogger("audiopipe")


def _first_line(obj) -> str:
    return (inspect.getdoc(obj) or "").split("\n")[0]


def _top_help() -> str:
    from audiopipe.pipeline.registry import recipes

    lines = ["usage: audiopipe {RECIPE STAGE ... | COMMAND ...} [-h] [--version]", "",
             "Reproducible audio-ML experiments. Recipes and their stages "
             "(`audiopipe RECIPE STAGE --help` for a stage's parameters):"]
    for name, decl in recipes().items():
        lines.append(f"  {name:<12} {decl.title}")
        lines.append(f"  {'':<12}   stages: {', '.join(decl.stages)}")
    lines += ["", "Commands:"]
    lines += [f"  {k:<12} {v[2]}" for k, v in COMMANDS.items()]
    lines += ["", "The DAG itself runs with `snakemake --cores all` (see README.md)."]
    return "\n".join(lines)


def stage_parser(prog: str, description: str, stages: dict, only: str | None = None):
    """A jsonargparse parser with one sub-command per stage (only ``only`` when given: building
    the others' parsers is not needed to run one stage)."""
    from jsonargparse import ArgumentParser

    parser = ArgumentParser(prog=prog, description=description, exit_on_error=True)
    sub = parser.add_subcommands(dest="stage", required=True)
    for name, func in stages.items():
        if only is not None and name != only:
            continue
        sp = ArgumentParser(description=_first_line(func))
        sp.add_function_arguments(func, fail_untyped=True)
        sub.add_subcommand(name, sp, help=_first_line(func))
    return parser


def run_stage(prog: str, description: str, stages: dict, argv: list[str]) -> int:
    """Parse ``argv`` (``STAGE --opt ...``) and call the stage."""
    only = argv[0] if argv and argv[0] in stages else None
    parser = stage_parser(prog, description, stages, only)
    cfg = parser.parse_args(argv)
    stage = cfg.stage
    kwargs = cfg[stage].as_dict() if hasattr(cfg[stage], "as_dict") else dict(cfg[stage])
    stages[stage](**kwargs)
    return 0


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``audiopipe`` console script."""
    argv = list(sys.argv[1:] if argv is None else argv)
    # one compute thread unless the rule says otherwise (OMP_NUM_THREADS={threads}): results do not
    # depend on the machine's core count, and parallel jobs do not oversubscribe the cores
    for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ.setdefault(var, "1")
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s",
                        stream=sys.stderr)
    if not argv or argv[0] in ("-h", "--help"):
        print(_top_help())
        return 0
    if argv[0] == "--version":
        print(f"audiopipe {__version__}")
        return 0
    head, rest = argv[0], argv[1:]
    if head in COMMANDS:
        modname, fname, _ = COMMANDS[head]
        return int(getattr(importlib.import_module(modname), fname)(rest) or 0)
    from audiopipe.pipeline.registry import get, recipe_names

    if head not in recipe_names():
        print(f"audiopipe: unknown recipe or command {head!r}\n\n{_top_help()}", file=sys.stderr)
        return 2
    decl = get(head)
    module = sys.modules[decl.stages[next(iter(decl.stages))].__module__]
    description = (inspect.getdoc(module) or decl.title).split("\n\n")[0]
    return run_stage(f"audiopipe {head}", description, dict(decl.stages), rest)


if __name__ == "__main__":
    sys.exit(main())
