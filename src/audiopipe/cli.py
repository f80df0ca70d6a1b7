"""The ``audiopipe`` command: a thin layer over ``audiopipe.recipes`` and ``audiopipe.plans``.

Every recipe module exposes ``STAGES``, a mapping from a stage name to a plain function with
annotated keyword parameters. This module turns each function into a sub-command whose options
come from the signature and whose help comes from the numpydoc ``Parameters`` section, so a
Snakemake rule, a test and a person at the shell all call the same code::

    audiopipe clarity prepare --root data/demo/clarity --split dev --output m.jsonl.gz
    audiopipe clarity --help
    audiopipe table clarity -s 'convtasnet/lr=0.001'

``dict`` parameters take JSON (or ``@file.json``); ``list`` parameters take several values.
"""

from __future__ import annotations

import argparse
import importlib
import inspect
import json
import logging
import re
import sys
import typing
from pathlib import Path

#: recipe name -> (module, one-line description). Modules are imported only when used.
RECIPES: dict[str, tuple[str, str]] = {
    "demo": ("audiopipe.recipes.demo", "build the embedded demo corpora from real recordings"),
    "clarity": ("audiopipe.recipes.clarity", "ICASSP 2023 Clarity: Conv-TasNet + NAL-R, HASPI/HASQI"),
    "sar_ssl": ("audiopipe.recipes.sar_ssl", "SAR-SSL: spatial acoustic representation learning"),
    "transcoder": ("audiopipe.recipes.transcoder", "Spectral Transcoder: third-octave -> Mel"),
    "strf": ("audiopipe.recipes.strf", "learnable STRF front end"),
    "sfi": ("audiopipe.recipes.sfi", "sampling-frequency-independent Conv-TasNet"),
}

#: other commands: name -> (module, function, description)
COMMANDS: dict[str, tuple[str, str, str]] = {
    "table": ("audiopipe.plans.table", "table_command", "collect per-setting metrics into a table"),
    "plan": ("audiopipe.plans.core", "plan_command", "list a recipe's plan settings"),
    "gpu-run": ("audiopipe.plans.gpu", "gpu_run_command", "run a command holding free GPU slots"),
    "data": ("audiopipe.plans.dvc", "data_command", "track a raw corpus with DVC"),
}

log = logging.getLogger("audiopipe")


def _param_docs(func) -> dict[str, str]:
    """Parse the numpydoc ``Parameters`` section of ``func`` into name -> first sentence."""
    doc = inspect.getdoc(func) or ""
    m = re.search(r"Parameters\n-+\n(.*?)(\n\n[A-Z][a-z]+\n-+\n|\Z)", doc, re.S)
    if not m:
        return {}
    out: dict[str, str] = {}
    name = None
    for line in m.group(1).splitlines():
        if line and not line.startswith(" "):
            name = line.split(":")[0].strip()
            out[name] = ""
        elif name is not None and line.strip():
            out[name] = (out[name] + " " + line.strip()).strip()
    return out


def _add_arguments(parser: argparse.ArgumentParser, func) -> None:
    hints = typing.get_type_hints(func)
    docs = _param_docs(func)
    for pname, p in inspect.signature(func).parameters.items():
        ann = hints.get(pname, str)
        opt = "--" + pname.replace("_", "-")
        kw: dict = {"dest": pname, "help": docs.get(pname, "")}
        required = p.default is inspect.Parameter.empty
        if not required:
            kw["default"] = p.default
            kw["help"] += f" (default: {p.default!r})"
        origin = typing.get_origin(ann)
        args = [a for a in typing.get_args(ann) if a is not type(None)]
        if origin in (typing.Union, getattr(__import__("types"), "UnionType", None)) and args:
            ann, origin = args[0], typing.get_origin(args[0])
        if ann is bool:
            parser.add_argument(opt, action=argparse.BooleanOptionalAction, **kw)
            continue
        if origin in (list, tuple):
            inner = (typing.get_args(ann) or (str,))[0]
            kw.update(nargs="+", type=_converter(inner))
        elif ann is dict or origin is dict:
            kw.update(type=_json_arg, metavar="JSON")
        else:
            kw.update(type=_converter(ann))
        parser.add_argument(opt, required=required, **kw)


def _converter(t):
    if t in (int, float, str, Path):
        return t
    return str


def _json_arg(text: str) -> dict:
    """Parse a JSON object given inline or as ``@path``."""
    if text.startswith("@"):
        text = Path(text[1:]).read_text()
    try:
        val = json.loads(text)
    except json.JSONDecodeError as e:
        raise argparse.ArgumentTypeError(f"not valid JSON: {e}") from e
    if not isinstance(val, dict):
        raise argparse.ArgumentTypeError("expected a JSON object")
    return val


def _first_line(func) -> str:
    return (inspect.getdoc(func) or "").split("\n")[0]


def build_recipe_parser(recipe: str) -> argparse.ArgumentParser:
    """Build the parser of ``audiopipe <recipe>`` with one sub-command per stage."""
    mod = importlib.import_module(RECIPES[recipe][0])
    parser = argparse.ArgumentParser(
        prog=f"audiopipe {recipe}",
        description=(inspect.getdoc(mod) or "").split("\n\n")[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = parser.add_subparsers(dest="stage", required=True, metavar="STAGE")
    for name, func in mod.STAGES.items():
        sp = sub.add_parser(name, help=_first_line(func), description=inspect.getdoc(func),
                            formatter_class=argparse.RawDescriptionHelpFormatter)
        _add_arguments(sp, func)
        sp.set_defaults(_func=func)
    return parser


def _top_help() -> str:
    lines = ["usage: audiopipe {RECIPE STAGE ... | COMMAND ...} [-h]", "",
             "Reproducible audio-ML experiments. Recipes (each has stages; try "
             "`audiopipe clarity --help`):"]
    lines += [f"  {k:<12} {v[1]}" for k, v in RECIPES.items()]
    lines += ["", "Commands:"]
    lines += [f"  {k:<12} {v[2]}" for k, v in COMMANDS.items()]
    lines += ["", "The DAG itself runs with `snakemake --cores all` (see README.md)."]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``audiopipe`` console script."""
    argv = list(sys.argv[1:] if argv is None else argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    if not argv or argv[0] in ("-h", "--help"):
        print(_top_help())
        return 0
    head, rest = argv[0], argv[1:]
    if head in COMMANDS:
        modname, fname, _ = COMMANDS[head]
        return int(getattr(importlib.import_module(modname), fname)(rest) or 0)
    if head not in RECIPES:
        print(f"audiopipe: unknown recipe or command {head!r}\n\n{_top_help()}", file=sys.stderr)
        return 2
    parser = build_recipe_parser(head)
    ns = vars(parser.parse_args(rest))
    func = ns.pop("_func")
    ns.pop("stage")
    func(**ns)
    return 0


if __name__ == "__main__":
    sys.exit(main())
